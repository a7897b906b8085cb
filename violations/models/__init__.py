"""Violations app models: the rulebook (catalog) and the records (violations, sanctions, appeals)."""

from .catalog import CompanySettings, HolidaySchedule, Rule, WorkdayOverride, validate_sanction_specs
from .deductions import PerformanceDeduction, PerformanceMonth
from .detection import ChunkStatus, Detection, DetectionChunk, DetectionRun, GroupDetectionSettings, RunStatus
from .lexicon import LexiconEntry
from .records import Appeal, Evidence, Sanction, Violation
from .responsiveness import DirectiveSettings, GroupLeader

__all__ = [
    "Appeal",
    "ChunkStatus",
    "CompanySettings",
    "Detection",
    "DetectionChunk",
    "DetectionRun",
    "DirectiveSettings",
    "Evidence",
    "GroupDetectionSettings",
    "GroupLeader",
    "HolidaySchedule",
    "LexiconEntry",
    "PerformanceDeduction",
    "PerformanceMonth",
    "Rule",
    "RunStatus",
    "Sanction",
    "Violation",
    "WorkdayOverride",
    "validate_sanction_specs",
]

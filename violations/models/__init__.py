"""Violations app models: the rulebook (catalog) and the records (violations, sanctions, appeals)."""

from .catalog import CompanySettings, HolidaySchedule, Rule, WorkdayOverride, validate_sanction_specs
from .deductions import PerformanceDeduction, PerformanceMonth
from .lexicon import LexiconEntry
from .records import Appeal, Evidence, Sanction, Violation

__all__ = [
    "Appeal",
    "CompanySettings",
    "Evidence",
    "HolidaySchedule",
    "LexiconEntry",
    "PerformanceDeduction",
    "PerformanceMonth",
    "Rule",
    "Sanction",
    "Violation",
    "WorkdayOverride",
    "validate_sanction_specs",
]

"""Writes of the violations app. Admin, API, self-service views, tasks and commands call these.

Every service is atomic, takes ``acting_user`` keyword-only (None only for system jobs such as the
demo seed), records ``channel`` in the audit trail, and raises ValidationError naming the field.

``records``: record, report, confirm, dismiss a violation and attach evidence; ``sanctions``: impose
sanctions, removals done, notice given, the escalation ladder; ``appeals``: file and decide;
``catalog``: the rules and the company settings; ``calendar``: HR's entry of a year's holiday
schedule. ``common`` holds what they share.
"""

from __future__ import annotations

from .appeals import AppealConsequences, appeal_consequences, decide_appeal, file_appeal
from .calendar import ScheduleResult, enter_holiday_schedule, read_schedule
from .catalog import create_rule, save_company_settings, save_rule, update_rule
from .records import (
    add_evidence,
    confirm_violation,
    dismiss_violation,
    duplicate_summary,
    likely_duplicates,
    record_and_sanction,
    record_violation,
    report_violation,
)
from .sanctions import (
    RecomputeResult,
    apply_sanctions,
    default_specs,
    mark_notified,
    preview_escalation,
    recompute_escalation,
    record_removal_done,
)

__all__ = [
    "AppealConsequences",
    "RecomputeResult",
    "ScheduleResult",
    "add_evidence",
    "appeal_consequences",
    "apply_sanctions",
    "confirm_violation",
    "create_rule",
    "decide_appeal",
    "default_specs",
    "dismiss_violation",
    "duplicate_summary",
    "enter_holiday_schedule",
    "file_appeal",
    "likely_duplicates",
    "mark_notified",
    "preview_escalation",
    "read_schedule",
    "recompute_escalation",
    "record_and_sanction",
    "record_removal_done",
    "record_violation",
    "report_violation",
    "save_company_settings",
    "save_rule",
    "update_rule",
]

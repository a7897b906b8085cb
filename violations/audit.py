"""Audit-trail registration (django-auditlog) for the violations models.

The actor, the channel and anonymous reports are handled by ``portal.audit.audit_context`` for every
app; deductions rows are written in bulk, so violations.deductions logs one summary entry per run.
"""

from auditlog.registry import auditlog

from .models import (
    Appeal,
    CompanySettings,
    DirectiveSettings,
    Evidence,
    GroupDetectionSettings,
    GroupLeader,
    HolidaySchedule,
    LexiconEntry,
    PerformanceMonth,
    Rule,
    Sanction,
    Violation,
    WorkdayOverride,
)

auditlog.register(Rule, exclude_fields=["updated_at"])
auditlog.register(CompanySettings, exclude_fields=["updated_at"])
auditlog.register(WorkdayOverride)
auditlog.register(HolidaySchedule)
auditlog.register(LexiconEntry, exclude_fields=["updated_at"])
auditlog.register(Violation, exclude_fields=["updated_at"])
auditlog.register(Evidence)
auditlog.register(Sanction, m2m_fields={"caused_by"})
auditlog.register(Appeal)
auditlog.register(GroupDetectionSettings, exclude_fields=["updated_at"])

auditlog.register(PerformanceMonth, exclude_fields=["computed_at", "computed_by"])

auditlog.register(DirectiveSettings, exclude_fields=["updated_at"])
auditlog.register(GroupLeader)

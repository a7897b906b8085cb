"""Audit-trail registration (django-auditlog) for the organisation models.

auditlog works through model signals: bulk writes (roster imports) bypass it, so the import
service writes its own summary entry in the same transaction (``portal.audit.log_summary``); the
actor of every write comes from ``portal.audit.audit_context``.
"""

from auditlog.registry import auditlog

from .findings import RosterFinding
from .lifecycle import DepartmentMove, MemberRestriction, ReportedRemoval
from .models import ChatGroup, Department, Employee, Membership, RosterSettings
from .succession import WeComTransfer

auditlog.register(Department)
auditlog.register(Employee, exclude_fields=["updated_at", "employment_changed_at"])  # the mark: not a change
# wecom_member_version: a sync bookmark, not a change of the group
auditlog.register(
    ChatGroup, exclude_fields=["updated_at", "roster_changed_at", "wecom_member_version"], m2m_fields={"admins"}
)
auditlog.register(Membership, exclude_fields=["updated_at", "member_key"])
auditlog.register(RosterFinding)
auditlog.register(RosterSettings, exclude_fields=["updated_at"])
auditlog.register(ReportedRemoval, exclude_fields=["member_key"])  # personal: anonymised with the member
auditlog.register(MemberRestriction)
auditlog.register(DepartmentMove)
auditlog.register(WeComTransfer)  # each chat sent to groupchat/transfer, with WeCom's answer

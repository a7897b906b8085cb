"""Audit-trail registration (django-auditlog) for the organisation models.

auditlog works through model signals: bulk writes (roster imports) bypass it, so the import
service writes its own summary entry in the same transaction.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from auditlog.context import auditlog_value, set_actor
from auditlog.registry import auditlog

from .findings import RosterFinding
from .models import ChatGroup, Department, Employee, Membership, RosterSettings

auditlog.register(Department)
auditlog.register(Employee, exclude_fields=["updated_at"])
auditlog.register(ChatGroup, exclude_fields=["updated_at"], m2m_fields={"admins"})
auditlog.register(Membership, exclude_fields=["updated_at", "member_key"])
auditlog.register(RosterFinding)
auditlog.register(RosterSettings, exclude_fields=["updated_at"])


@contextmanager
def acting_as(user) -> Iterator[None]:
    """Name ``user`` as the actor of the audit entries written inside the block.

    AuditlogMiddleware knows the session user but not a DRF token user (DRF authenticates later, in
    the view), so services set the actor they were given. The request's remote address is kept, and
    the outer context is restored afterwards: auditlog's ``set_actor`` does neither when nested.
    """
    if user is None:
        yield
        return
    outer = auditlog_value.get(None)
    remote = {k: outer.get(k) for k in ("remote_addr", "remote_port")} if outer else {}
    try:
        with set_actor(user, **remote):
            yield
    finally:
        if outer is not None:
            auditlog_value.set(outer)

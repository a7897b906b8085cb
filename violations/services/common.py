"""What the violations services share: the audit wrapper, row locks, status checks, evidence files."""

from __future__ import annotations

import datetime
import functools
import inspect
import os

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit import audit_context

from ..evidence import CheckedFile
from ..models import Appeal, Evidence, Violation


def audited(func):
    """Run the service inside an audit context naming the acting user and the channel."""

    default_channel = inspect.signature(func).parameters["channel"].default

    @functools.wraps(func)
    def wrapper(*args, acting_user, channel: str | None = None, **kwargs):
        channel = channel or default_channel
        with audit_context(acting_user, channel):
            return func(*args, acting_user=acting_user, channel=channel, **kwargs)

    return wrapper


def lock_violation(violation: Violation) -> Violation:
    return Violation.objects.select_for_update().select_related("rule", "employee").get(pk=violation.pk)


def require_status(violation: Violation, *allowed: str) -> None:
    if violation.status not in allowed:
        raise ValidationError(
            {"status": _("当前状态为“%(s)s”,不能执行此操作。") % {"s": violation.get_status_display()}}
        )


def attach_evidence(
    files: list[CheckedFile],
    violation: Violation,
    user,
    appeal: Appeal | None = None,
    *,
    uploaded_at: datetime.datetime | None = None,
) -> None:
    for checked in files:
        evidence = Evidence(
            violation=violation,
            appeal=appeal,
            original_name=checked.name[:255],
            file_type=checked.file_type,
            size=checked.size,
            sha256=checked.sha256,
            uploaded_by=user,
            uploaded_at=uploaded_at or timezone.now(),
        )
        evidence.file.save(checked.name, checked.upload, save=False)
        if uploaded_at is not None:
            _set_file_times(evidence, uploaded_at)
        evidence.save()


def _set_file_times(evidence: Evidence, moment: datetime.datetime) -> None:
    """The stored file's modification time says no more than the row does."""
    try:
        path = evidence.file.path
    except NotImplementedError:  # a storage without local paths keeps its own times
        return
    os.utime(path, (moment.timestamp(), moment.timestamp()))

"""The rule catalog and the company settings: a change of the ladder's counts or a rule's repeat
steps recomputes the escalation of the employees concerned."""

from __future__ import annotations

from django.db import transaction

from portal.choices import Channel
from portal.scoping import require_hr

from ..models import CompanySettings, Rule, Sanction
from .common import audited
from .sanctions import enqueue_recompute

LADDER_SETTINGS = ("warnings_per_demerit", "demerits_for_dismissal", "window_months")


LADDER_RULE_FIELDS = ("repeat_threshold", "repeat_sanctions")


@transaction.atomic
@audited
def save_company_settings(settings: CompanySettings, *, acting_user, channel: str = Channel.ADMIN) -> bool:
    """Save HR's edit of the settings; a changed ladder is recomputed for everyone affected (after commit).

    Returns whether a recompute was enqueued.
    """
    require_hr(acting_user)
    settings.full_clean()
    before = CompanySettings.objects.filter(pk=settings.pk).values(*LADDER_SETTINGS).first()
    settings.save()
    if before is None or any(before[f] != getattr(settings, f) for f in LADDER_SETTINGS):
        ids = list(Sanction.objects.values_list("employee_id", flat=True).distinct().order_by("employee_id"))
        enqueue_recompute(ids)
        return True
    return False


@transaction.atomic
@audited
def save_rule(rule: Rule, *, acting_user, channel: str = Channel.ADMIN) -> bool:
    """Save HR's edit of a rule; a changed repeat escalation is recomputed for its offenders (after commit)."""
    require_hr(acting_user)
    rule.full_clean()
    before = Rule.objects.filter(pk=rule.pk).values(*LADDER_RULE_FIELDS).first() if rule.pk else None
    rule.save()
    if before is not None and any(before[f] != getattr(rule, f) for f in LADDER_RULE_FIELDS):
        ids = list(rule.violations.values_list("employee_id", flat=True).distinct().order_by("employee_id"))
        enqueue_recompute(ids)
        return True
    return False


@transaction.atomic
def create_rule(*, acting_user, channel: str = Channel.API, **fields) -> Rule:
    """HR adds a clause to the catalog (validated like the admin form)."""
    rule = Rule(**fields)
    save_rule(rule, acting_user=acting_user, channel=channel)
    return rule


@transaction.atomic
def update_rule(rule: Rule, *, acting_user, channel: str = Channel.API, **changes) -> Rule:
    """HR edits a clause; deactivation (``is_active=False``) replaces deletion."""
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    for name, value in changes.items():
        setattr(rule, name, value)
    save_rule(rule, acting_user=acting_user, channel=channel)
    return rule

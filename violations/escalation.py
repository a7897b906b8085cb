"""The escalation ladder, computed from scratch for one employee (deterministic, explainable).

Counting (settings: ``warnings_per_demerit`` N, ``demerits_for_dismissal`` M, ``window_months`` W):
- Active warnings (not withdrawn, violation neither dismissed nor overturned) are taken in order of
  occurrence. Each warning joins the pending ones that are less than W months older than it; when N
  are pending they become one derived demerit (with forfeit of the month's performance pay and
  removal from the group), attached to the N-th warning's violation and naming all N violations.
  Those warnings are used up; counting starts again.
- Demerits (direct ones and the ones derived above) are counted the same way; every M-th in the
  window adds a dismissal recommendation — a recommendation for a person to decide, never a dismissal.
- A rule with ``repeat_threshold`` K: every K-th standing violation of that rule in the window adds
  the rule's ``repeat_sanctions`` (C06: the second ad → removal).
Each step has a stable key built from what caused it, so recomputing finds the same steps and
creates nothing twice; a step that no longer holds (a warning overturned on appeal) is withdrawn.
Derived sanctions do not feed the warning count (a derived warning would count itself).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from portal.months import months_before

from .choices import STANDING_STATUSES, SanctionKind

DEMERIT_SPECS = [{"kind": SanctionKind.DEMERIT}, {"kind": SanctionKind.FORFEIT_MONTH}, {"kind": SanctionKind.REMOVAL}]
DISMISSAL_SPECS = [{"kind": SanctionKind.DISMISSAL_RECOMMENDED}]


@dataclass(frozen=True)
class Event:
    """Something the ladder counts: a warning, a demerit, or a violation of a repeat-escalating rule."""

    ident: str
    at: datetime.datetime
    violation_id: int | None  # None: the hypothetical violation of a preview
    causes: frozenset[int | None]


@dataclass(frozen=True)
class Step:
    """One rung reached: what it adds, where it is attached, what caused it."""

    key: str
    kind: str  # "warnings", "demerits", "repeat"
    trigger: Event
    ordinal: int  # the trigger's number within the window (3 = "third warning")
    specs: tuple = field(default_factory=tuple)
    rule_code: str = ""

    @property
    def causes(self) -> frozenset[int | None]:
        return self.trigger.causes


def group_in_window(events: list[Event], size: int, window_months: int) -> list[tuple[tuple[Event, ...], int]]:
    """Consume ``events`` (sorted) in groups of ``size`` lying within the window; with ordinals."""
    pending: list[Event] = []
    seen: list[Event] = []
    groups = []
    for event in events:
        cutoff = months_before(event.at, window_months)
        pending = [p for p in pending if p.at > cutoff]
        seen.append(event)
        pending.append(event)
        if len(pending) >= size:
            ordinal = sum(1 for s in seen if s.at > cutoff)
            groups.append((tuple(pending), ordinal))
            pending = []
    return groups


@dataclass
class LadderInput:
    """Everything the ladder needs about one employee, loaded once (or extended for a preview)."""

    warnings: list[Event]
    demerits: list[Event]
    repeats: dict[str, tuple[int, tuple, list[Event]]]  # rule code -> (threshold, specs, events)


def plan(data: LadderInput, settings) -> list[Step]:
    """The steps the ladder reaches for this input, in a stable order."""
    steps: list[Step] = []
    window = settings.window_months
    for group, ordinal in group_in_window(_sorted(data.warnings), settings.warnings_per_demerit, window):
        key = "warnings:" + ",".join(e.ident for e in group)
        causes = frozenset().union(*(e.causes for e in group))
        trigger = Event(key, group[-1].at, group[-1].violation_id, causes)
        steps.append(Step(key, "warnings", trigger, ordinal, tuple(DEMERIT_SPECS)))
    demerits = data.demerits + [s.trigger for s in steps]
    for group, ordinal in group_in_window(_sorted(demerits), settings.demerits_for_dismissal, settings.window_months):
        key = "demerits:" + "|".join(e.ident for e in group)
        causes = frozenset().union(*(e.causes for e in group))
        trigger = Event(key, group[-1].at, group[-1].violation_id, causes)
        steps.append(Step(key, "demerits", trigger, ordinal, tuple(DISMISSAL_SPECS)))
    for code, (threshold, specs, events) in sorted(data.repeats.items()):
        for group, ordinal in group_in_window(_sorted(events), threshold, settings.window_months):
            key = f"repeat:{code}:" + ",".join(e.ident for e in group)
            causes = frozenset().union(*(e.causes for e in group))
            trigger = Event(key, group[-1].at, group[-1].violation_id, causes)
            steps.append(Step(key, "repeat", trigger, ordinal, tuple(specs), rule_code=code))
    return steps


def _sorted(events: list[Event]) -> list[Event]:
    # Ties on time are broken by violation id then ident, so the order never depends on the query.
    return sorted(events, key=lambda e: (e.at, e.violation_id or 0, e.ident))


def load_input(employee_id: int) -> LadderInput:
    """Read the employee's active direct sanctions and standing violations of repeat-escalating rules."""
    from .models import Sanction, Violation

    direct = (
        Sanction.objects.active()
        .filter(employee_id=employee_id, is_derived=False, kind__in=[SanctionKind.WARNING, SanctionKind.DEMERIT])
        .values_list("pk", "kind", "violation_id", "violation__occurred_at")
    )
    warnings, demerits = [], []
    for pk, kind, violation_id, at in direct:
        event = Event(f"s{pk}", at, violation_id, frozenset([violation_id]))
        (warnings if kind == SanctionKind.WARNING else demerits).append(event)
    repeats: dict[str, tuple[int, tuple, list[Event]]] = {}
    rows = Violation.objects.filter(
        employee_id=employee_id, status__in=STANDING_STATUSES, rule__repeat_threshold__isnull=False
    ).values_list("pk", "occurred_at", "rule__code", "rule__repeat_threshold", "rule__repeat_sanctions")
    for pk, at, code, threshold, specs in rows:
        entry = repeats.setdefault(code, (threshold, tuple(specs), []))
        entry[2].append(Event(f"v{pk}", at, pk, frozenset([pk])))
    return LadderInput(warnings, demerits, repeats)


def without_violation(data: LadderInput, violation_id: int) -> LadderInput:
    """The same input as if this violation's sanctions were withdrawn (an appeal overturned)."""

    def keep(events: list[Event]) -> list[Event]:
        return [e for e in events if e.violation_id != violation_id]

    repeats = {code: (k, specs, keep(events)) for code, (k, specs, events) in data.repeats.items()}
    return LadderInput(keep(data.warnings), keep(data.demerits), repeats)


def changes(before: list[Step], after: list[Step]) -> tuple[list[Step], list[Step]]:
    """The steps ``after`` reaches that ``before`` did not (added), and those it no longer reaches (dropped)."""
    before_keys, after_keys = {s.key for s in before}, {s.key for s in after}
    return [s for s in after if s.key not in before_keys], [s for s in before if s.key not in after_keys]


def count_in_window(events: list[Event], at: datetime.datetime, window_months: int) -> int:
    """How many of ``events`` fall in the window ending at ``at`` (the ordinal "第N次" of an event at ``at``)."""
    cutoff = months_before(at, window_months)
    return sum(1 for e in events if cutoff < e.at <= at)


def describe(step: Step, settings) -> str:
    """A sentence HR reads before saving, e.g. "第3次警告(12个月内)→ 记过一次,扣当月全额绩效,清出群"."""
    labels = _("、").join(str(SanctionKind(s["kind"]).label) for s in step.specs)
    window = _("%(m)s个月内") % {"m": settings.window_months}
    if step.kind == "warnings":
        return _("第%(n)s次警告(%(w)s)→ 记过一次(%(what)s)") % {"n": step.ordinal, "w": window, "what": labels}
    if step.kind == "demerits":
        return _("第%(n)s次记过(%(w)s)→ 建议辞退(由人资决定,不自动辞退)") % {"n": step.ordinal, "w": window}
    return _("%(w)s第%(n)s次违反%(code)s → %(what)s") % {
        "w": window,
        "n": step.ordinal,
        "code": step.rule_code,
        "what": labels,
    }


def next_rungs(data: LadderInput, settings, at: datetime.datetime) -> list[Step]:
    """The rungs one more warning, or one more demerit, at ``at`` would reach: an employee with any
    is at risk. Each comes with its stable key (the pending warnings or demerits plus the next one),
    so "told once per rung" can be keyed on it."""
    reached = {step.key for step in plan(data, settings)}
    rungs = []
    for kind in ("warnings", "demerits"):
        extra = Event("next", at, None, frozenset())
        trial = LadderInput(
            warnings=[*data.warnings, extra] if kind == "warnings" else list(data.warnings),
            demerits=[*data.demerits, extra] if kind == "demerits" else list(data.demerits),
            repeats=data.repeats,
        )
        rungs += [step for step in plan(trial, settings) if step.kind == kind and step.key not in reached]
    return rungs

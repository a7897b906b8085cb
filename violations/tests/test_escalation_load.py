"""What the ladder reads for one employee: their own active direct warnings and demerits, and their
own standing violations of repeat-escalating rules — nothing derived, dismissed or someone else's."""

from __future__ import annotations

import pytest

from violations import services
from violations.choices import SanctionKind
from violations.escalation import load_input
from violations.models import Sanction

from .conftest import at

pytestmark = pytest.mark.django_db


def idents(events):
    return sorted(e.ident for e in events)


def direct(violation, kind):
    return f"s{Sanction.objects.get(violation=violation, kind=kind, is_derived=False).pk}"


def test_derived_sanctions_are_not_read_back_as_direct_ones(org, sanction):
    warnings = [sanction("C04", at(2026, 1, d, 10)) for d in (5, 6, 7)]  # → a derived demerit, forfeit, removal
    assert Sanction.objects.filter(employee=org["east_rep"], is_derived=True, kind=SanctionKind.DEMERIT).exists()
    data = load_input(org["east_rep"].pk)
    assert idents(data.warnings) == sorted(direct(v, SanctionKind.WARNING) for v in warnings)
    assert data.demerits == []


def test_only_warnings_and_demerits_are_read(org, sanction):
    fine = sanction("R01", at(2026, 2, 1, 10))  # a fine only
    demerit = sanction("B04", at(2026, 2, 2, 10))  # a direct demerit
    data = load_input(org["east_rep"].pk)
    assert Sanction.objects.filter(violation=fine).exists()
    assert data.warnings == []
    assert idents(data.demerits) == [direct(demerit, SanctionKind.DEMERIT)]
    assert data.demerits[0].violation_id == demerit.pk and data.demerits[0].causes == frozenset([demerit.pk])


def test_another_employees_violations_are_not_read(org, sanction):
    mine = sanction("C06", at(2026, 3, 1, 10))
    sanction("C06", at(2026, 3, 2, 10), employee=org["tech_dev"])
    sanction("C04", at(2026, 3, 3, 10), employee=org["tech_dev"])
    data = load_input(org["east_rep"].pk)
    threshold, _specs, events = data.repeats["C06"]
    assert threshold == 2 and [e.ident for e in events] == [f"v{mine.pk}"]
    assert idents(data.warnings) == [direct(mine, SanctionKind.WARNING)]


def test_dismissed_violations_do_not_count_as_repeats(org, hr, sanction):
    kept = sanction("C06", at(2026, 4, 1, 10))
    dropped = sanction("C06", at(2026, 4, 2, 10))
    services.dismiss_violation(dropped, "误报", acting_user=hr)
    data = load_input(org["east_rep"].pk)
    assert [e.ident for e in data.repeats["C06"][2]] == [f"v{kept.pk}"]
    assert idents(data.warnings) == [direct(kept, SanctionKind.WARNING)]  # the dismissed one's is withdrawn


def test_rules_without_a_repeat_threshold_are_not_read_as_repeats(org, sanction):
    sanction("C04", at(2026, 5, 1, 10))
    assert load_input(org["east_rep"].pk).repeats == {}

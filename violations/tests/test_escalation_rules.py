"""The ladder's counting rules on plain events (no database): rung numbers, settings, tie-breaks, wording.

Each test pins one behaviour of ``violations.escalation`` that a one-character change would break
(see scripts/mutation.py).
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace

from violations.escalation import Event, LadderInput, Step, describe, group_in_window, months_before, plan

from .conftest import at


def ladder(window_months=12, warnings_per_demerit=3, demerits_for_dismissal=3):
    return SimpleNamespace(
        window_months=window_months,
        warnings_per_demerit=warnings_per_demerit,
        demerits_for_dismissal=demerits_for_dismissal,
    )


def ev(ident, when, violation_id):
    return Event(ident, when, violation_id, frozenset([violation_id]))


def warnings_only(*events):
    return LadderInput(warnings=list(events), demerits=[], repeats={})


def test_rung_number_counts_every_warning_of_the_window_not_only_the_group():
    # Six warnings within a year: the second demerit is "the 6th warning", not the 3rd again.
    events = [ev(f"s{m}", at(2026, m, 2, 10), m) for m in range(1, 7)]
    steps = plan(warnings_only(*events), ladder())
    assert [(s.kind, s.ordinal) for s in steps] == [("warnings", 3), ("warnings", 6)]
    assert describe(steps[1], ladder()) == "第6次警告(12个月内)→ 记过一次(记过、扣当月全额绩效、清出群)"


def test_rung_number_leaves_out_a_warning_exactly_one_window_older():
    first = [ev("s1", at(2025, 1, 10, 9), 1), ev("s2", at(2025, 6, 10, 9), 2), ev("s3", at(2025, 7, 10, 9), 3)]
    # the third of the next group falls exactly 12 months after s1: s1 is outside, s2…s6 inside
    second = [ev("s4", at(2025, 12, 1, 9), 4), ev("s5", at(2026, 1, 1, 9), 5), ev("s6", at(2026, 1, 10, 9), 6)]
    steps = plan(warnings_only(*first, *second), ladder())
    assert [s.ordinal for s in steps] == [3, 5]


def test_rung_number_ignores_warnings_that_expired_before_the_group():
    old = [ev("s1", at(2024, 1, 5, 9), 1), ev("s2", at(2024, 2, 5, 9), 2)]
    recent = [ev(f"s{i}", at(2026, i, 5, 9), i) for i in (3, 4, 5)]
    (step,) = plan(warnings_only(*old, *recent), ladder())
    assert step.ordinal == 3 and step.key == "warnings:s3,s4,s5"


def test_dismissal_threshold_is_demerits_for_dismissal_not_warnings_per_demerit():
    demerits = [ev("d1", at(2026, 1, 5, 9), 1), ev("d2", at(2026, 2, 5, 9), 2)]
    data = LadderInput(warnings=[], demerits=demerits, repeats={})
    steps = plan(data, ladder(warnings_per_demerit=3, demerits_for_dismissal=2))
    assert [(s.kind, s.key, s.trigger.violation_id) for s in steps] == [("demerits", "demerits:d1|d2", 2)]
    assert steps[0].trigger.at == at(2026, 2, 5, 9) and steps[0].causes == frozenset({1, 2})
    assert plan(data, ladder(warnings_per_demerit=2, demerits_for_dismissal=3)) == []


def test_demerit_threshold_is_warnings_per_demerit_not_demerits_for_dismissal():
    warnings = [ev("s1", at(2026, 1, 5, 9), 1), ev("s2", at(2026, 2, 5, 9), 2)]
    steps = plan(warnings_only(*warnings), ladder(warnings_per_demerit=2, demerits_for_dismissal=5))
    assert [s.key for s in steps] == ["warnings:s1,s2"]


def test_window_setting_applies_to_warnings_demerits_and_repeats():
    spread = [ev("a", at(2026, 1, 5, 9), 1), ev("b", at(2026, 4, 5, 9), 2), ev("c", at(2026, 7, 5, 9), 3)]
    data = LadderInput(warnings=list(spread), demerits=list(spread), repeats={"C06": (3, (), list(spread))})
    # six months apart end to end: within a 12-month window, not within a 3-month one
    assert {s.kind for s in plan(data, ladder(window_months=12, demerits_for_dismissal=3))} == {
        "warnings",
        "demerits",
        "repeat",
    }
    assert plan(data, ladder(window_months=3, warnings_per_demerit=3, demerits_for_dismissal=3)) == []


def test_a_repeat_step_is_attached_to_the_last_violation_of_its_group():
    events = [ev("v1", at(2026, 1, 5, 9), 11), ev("v2", at(2026, 2, 5, 9), 12)]
    data = LadderInput(warnings=[], demerits=[], repeats={"C06": (2, ({"kind": "removal"},), events)})
    (step,) = plan(data, ladder())
    assert (step.kind, step.key, step.rule_code, step.ordinal) == ("repeat", "repeat:C06:v1,v2", "C06", 2)
    assert (step.trigger.at, step.trigger.violation_id, step.causes) == (at(2026, 2, 5, 9), 12, frozenset({11, 12}))
    assert step.specs == ({"kind": "removal"},)


def test_same_moment_ties_are_broken_by_violation_id_then_ident():
    moment = at(2026, 5, 1, 9)
    # given out of order: the demerit attaches to the highest violation id, the key lists them by id
    events = [ev("s7", moment, 30), ev("s8", moment, 10), ev("s9", moment, 20)]
    (step,) = plan(warnings_only(*events), ladder())
    assert step.key == "warnings:s8,s9,s7"
    assert step.trigger.violation_id == 30


def test_violation_id_decides_a_tie_before_the_ident():
    moment = at(2026, 5, 1, 9)
    events = [ev("s1", moment, 20), ev("s2", moment, 10)]
    (step,) = plan(warnings_only(*events), ladder(warnings_per_demerit=2))
    assert step.key == "warnings:s2,s1"


def test_time_comes_before_violation_id():
    events = [ev("s1", at(2026, 3, 1, 9), 5), ev("s2", at(2026, 1, 1, 9), 9), ev("s3", at(2026, 2, 1, 9), 7)]
    (step,) = plan(warnings_only(*events), ladder())
    assert step.key == "warnings:s2,s3,s1"
    assert step.trigger.violation_id == 5  # the latest warning, whatever its id


def test_a_previews_hypothetical_violation_sorts_before_recorded_ones_at_the_same_moment():
    moment = at(2026, 5, 1, 9)
    events = [ev("s1", moment, 1), ev("z", moment, None)]
    (step,) = plan(warnings_only(*events), ladder(warnings_per_demerit=2))
    assert step.key == "warnings:z,s1"


def test_trigger_collects_the_causes_of_the_whole_group():
    events = [ev("s1", at(2026, 1, 1, 9), 1), ev("s2", at(2026, 2, 1, 9), 2), ev("s3", at(2026, 3, 1, 9), 3)]
    (step,) = plan(warnings_only(*events), ladder())
    assert step.causes == frozenset({1, 2, 3})
    assert (step.trigger.at, step.trigger.ident) == (at(2026, 3, 1, 9), "warnings:s1,s2,s3")


def test_group_in_window_returns_each_group_with_its_ordinal():
    events = [ev(f"e{i}", at(2026, i, 1, 9), i) for i in range(1, 5)]
    groups = group_in_window(events, 2, 12)
    assert [([e.ident for e in group], ordinal) for group, ordinal in groups] == [
        (["e1", "e2"], 2),
        (["e3", "e4"], 4),
    ]


def test_months_before_clamps_the_day_and_crosses_years():
    assert months_before(datetime.datetime(2026, 3, 31, 9, 30), 1) == datetime.datetime(2026, 2, 28, 9, 30)
    assert months_before(datetime.datetime(2026, 1, 15, 8), 12) == datetime.datetime(2025, 1, 15, 8)
    assert months_before(datetime.datetime(2026, 2, 10), 14) == datetime.datetime(2024, 12, 10)
    assert months_before(datetime.datetime(2024, 5, 31), 3) == datetime.datetime(2024, 2, 29)


def test_describe_names_the_rung_window_and_sanctions_of_each_kind():
    moment = at(2026, 5, 1, 9)
    trigger = ev("x", moment, 1)
    dismissal = Step("demerits:x", "demerits", trigger, 4, ({"kind": "dismissal_recommended"},))
    repeat = Step("repeat:C06:x", "repeat", trigger, 2, ({"kind": "removal"}, {"kind": "fine"}), rule_code="C06")
    settings = ladder(window_months=6)
    assert describe(dismissal, settings) == "第4次记过(6个月内)→ 建议辞退(由人资决定,不自动辞退)"
    assert describe(repeat, settings) == "6个月内第2次违反C06 → 清出群、罚款"

"""The escalation ladder: 3 warnings → demerit, 3 demerits → dismissal recommended, repeats, windows."""

from __future__ import annotations

from portal.months import months_before
from violations import services
from violations.choices import SanctionKind
from violations.models import CompanySettings, Rule, Sanction

from .conftest import at


def derived(employee, kind=None, active=True):
    qs = Sanction.objects.filter(employee=employee, is_derived=True)
    if active:
        qs = qs.filter(withdrawn_at__isnull=True)
    return qs.filter(kind=kind) if kind else qs


def test_third_warning_derives_demerit_with_forfeit_and_removal(org, sanction):
    v1 = sanction("C04", at(2026, 1, 5, 10))
    v2 = sanction("C05", at(2026, 3, 5, 10))
    assert not derived(org["east_rep"]).exists()
    v3 = sanction("B03", at(2026, 6, 5, 10))
    demerit = derived(org["east_rep"], SanctionKind.DEMERIT).get()
    assert demerit.violation == v3
    assert set(demerit.caused_by.all()) == {v1, v2, v3}
    assert "第3次警告" in demerit.explanation
    kinds = set(derived(org["east_rep"]).values_list("kind", flat=True))
    assert kinds == {SanctionKind.DEMERIT, SanctionKind.FORFEIT_MONTH, SanctionKind.REMOVAL}


def test_sixth_warning_derives_second_demerit_not_duplicates(org, sanction):
    for month in range(1, 7):
        sanction("C04", at(2026, month, 2, 10))
    assert derived(org["east_rep"], SanctionKind.DEMERIT).count() == 2


def test_three_demerits_recommend_dismissal_never_dismiss(org, sanction):
    sanction("B04", at(2026, 1, 5, 10))
    sanction("S03", at(2026, 2, 5, 10))
    assert not derived(org["east_rep"], SanctionKind.DISMISSAL_RECOMMENDED).exists()
    third = sanction("B01", at(2026, 3, 5, 10))
    rec = derived(org["east_rep"], SanctionKind.DISMISSAL_RECOMMENDED).get()
    assert rec.violation == third
    assert rec.caused_by.count() == 3
    org["east_rep"].refresh_from_db()
    assert org["east_rep"].status == "active"  # a recommendation only


def test_derived_demerit_counts_toward_dismissal(org, sanction):
    sanction("B04", at(2026, 1, 5, 10))
    sanction("S03", at(2026, 2, 5, 10))
    for day in (10, 11, 12):
        sanction("C04", at(2026, 3, day, 10))
    rec = derived(org["east_rep"], SanctionKind.DISMISSAL_RECOMMENDED).get()
    assert rec.caused_by.count() == 5  # two direct demerits + the three warnings behind the derived one


def test_repeat_escalation_c06_second_ad_removal(org, sanction):
    first = sanction("C06", at(2026, 2, 1, 10))
    assert not derived(org["east_rep"], SanctionKind.REMOVAL).exists()
    second = sanction("C06", at(2026, 4, 1, 10))
    removal = derived(org["east_rep"], SanctionKind.REMOVAL).get()
    assert removal.violation == second
    assert set(removal.caused_by.all()) == {first, second}
    assert removal.ladder_step.startswith("repeat:C06:")


def test_window_boundary_exactly_twelve_months_is_outside(org, sanction):
    sanction("C04", at(2025, 1, 10, 9))
    sanction("C04", at(2025, 6, 10, 9))
    sanction("C04", at(2026, 1, 10, 9))  # the first is exactly 12 months older: outside
    assert not derived(org["east_rep"], SanctionKind.DEMERIT).exists()


def test_window_boundary_one_minute_inside(org, sanction):
    sanction("C04", at(2025, 1, 10, 9, 1))
    sanction("C04", at(2025, 6, 10, 9))
    sanction("C04", at(2026, 1, 10, 9))
    assert derived(org["east_rep"], SanctionKind.DEMERIT).count() == 1


def test_window_setting_is_used(org, sanction):
    CompanySettings.objects.update(window_months=3)
    sanction("C04", at(2026, 1, 10, 9))
    sanction("C04", at(2026, 3, 10, 9))
    sanction("C04", at(2026, 5, 10, 9))
    assert not derived(org["east_rep"], SanctionKind.DEMERIT).exists()


def test_months_before_clamps_to_month_end():
    assert months_before(at(2026, 3, 31, 12), 1) == at(2026, 2, 28, 12)
    assert months_before(at(2026, 1, 15, 12), 12) == at(2025, 1, 15, 12)


def test_recompute_is_idempotent(org, hr, sanction):
    for month in (1, 2, 3):
        sanction("C04", at(2026, month, 2, 10))
    before = list(Sanction.objects.order_by("pk").values_list("pk", "kind", "withdrawn_at"))
    result = services.recompute_escalation(org["east_rep"], acting_user=hr)
    assert result.created == [] and result.withdrawn == []
    assert list(Sanction.objects.order_by("pk").values_list("pk", "kind", "withdrawn_at")) == before


def test_dismissing_a_warning_withdraws_the_demerit_and_keeps_history(org, hr, sanction):
    v1 = sanction("C04", at(2026, 1, 2, 10))
    sanction("C04", at(2026, 2, 2, 10))
    sanction("C04", at(2026, 3, 2, 10))
    services.dismiss_violation(v1, "截图不是本人", acting_user=hr)
    assert not derived(org["east_rep"]).exists()
    withdrawn = derived(org["east_rep"], active=False).filter(withdrawn_at__isnull=False)
    assert withdrawn.count() == 3 and all(s.withdrawn_reason for s in withdrawn)
    assert v1.sanctions.get().withdrawn_at is not None
    sanction("C04", at(2026, 4, 2, 10))  # a new third warning: a new demerit, the old stays withdrawn
    assert derived(org["east_rep"], SanctionKind.DEMERIT).count() == 1
    assert derived(org["east_rep"], SanctionKind.DEMERIT, active=False).count() == 2


def test_preview_sentences(org, sanction):
    sanction("C04", at(2026, 1, 2, 10))
    sanction("C04", at(2026, 2, 2, 10))
    rule = Rule.objects.get(code="C05")
    sentences = services.preview_escalation(org["east_rep"], rule, at(2026, 3, 2, 10))
    assert sentences == ["第3次警告(12个月内)→ 记过一次(记过、扣当月全额绩效、清出群)"]
    assert services.preview_escalation(org["east_rep"], Rule.objects.get(code="C08"), at(2026, 3, 2, 10)) == []
    assert not derived(org["east_rep"]).exists()  # a preview writes nothing


def test_preview_repeat_rule(org, sanction):
    sanction("C06", at(2026, 1, 2, 10))
    sentences = services.preview_escalation(org["east_rep"], Rule.objects.get(code="C06"), at(2026, 2, 2, 10))
    assert "12个月内第2次违反C06 → 清出群" in sentences


def test_other_employees_do_not_count(org, sanction):
    sanction("C04", at(2026, 1, 2, 10))
    sanction("C04", at(2026, 2, 2, 10), employee=org["tech_dev"])
    sanction("C04", at(2026, 3, 2, 10))
    assert not Sanction.objects.filter(is_derived=True).exists()


def test_ties_on_time_are_deterministic(org, sanction):
    moment = at(2026, 5, 5, 10)
    for _ in range(3):
        sanction("C04", moment)
    step = derived(org["east_rep"], SanctionKind.DEMERIT).get().ladder_step
    services.recompute_escalation(org["east_rep"], acting_user=None)
    assert derived(org["east_rep"], SanctionKind.DEMERIT).get().ladder_step == step
    assert step == "warnings:" + ",".join(
        f"s{pk}"
        for pk in Sanction.objects.filter(kind="warning", is_derived=False)
        .order_by("violation_id")
        .values_list("pk", flat=True)
    )


def test_changing_ladder_setting_recomputes_after_commit(org, hr, sanction, django_capture_on_commit_callbacks):
    for month in (1, 2, 3, 4):
        sanction("C04", at(2026, month, 2, 10))
    assert derived(org["east_rep"], SanctionKind.DEMERIT).count() == 1
    settings = CompanySettings.load()
    settings.warnings_per_demerit = 2
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.save_company_settings(settings, acting_user=hr)
    assert len(callbacks) == 1
    assert derived(org["east_rep"], SanctionKind.DEMERIT).count() == 2  # warnings 1+2 and 3+4
    settings.base_monthly_score = 90
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert not services.save_company_settings(settings, acting_user=hr)
    assert callbacks == []


def test_changing_rule_repeat_recomputes(org, hr, sanction, django_capture_on_commit_callbacks):
    sanction("C05", at(2026, 1, 2, 10))
    sanction("C05", at(2026, 2, 2, 10))
    rule = Rule.objects.get(code="C05")
    rule.repeat_threshold, rule.repeat_sanctions = 2, [{"kind": "mute", "days": 7}]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.save_rule(rule, acting_user=hr)
    mute = derived(org["east_rep"], SanctionKind.MUTE).get()
    assert mute.days == 7 and mute.caused_by.count() == 2

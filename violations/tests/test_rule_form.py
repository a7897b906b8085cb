"""The rule admin edits 默认处分 / 重复升级处分 as rows of a form (处分类型, 扣绩效分, 罚款金额(元),
期限(天), 删除), stores the same JSON list as before, names the row and column of an error, and
leaves the change in the audit trail."""

from __future__ import annotations

import re

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from violations.admin.rule_form import EXTRA_ROWS, RuleAdminForm
from violations.models import Rule

pytestmark = pytest.mark.django_db


def rule_post(rule: Rule, rows: list[dict] | None = None, repeat: list[dict] | None = None, **extra) -> dict:
    """What the change page posts: the rule's fields and its sanction rows (as the widget names them)."""
    data = {
        "code": rule.code,
        "title_zh": rule.title_zh,
        "title_en": rule.title_en,
        "category": rule.category,
        "description": rule.description,
        "performance_points": rule.performance_points,
        "fine_amount": str(rule.fine_amount),
        "repeat_threshold": rule.repeat_threshold or "",
        "is_active": "on" if rule.is_active else "",
    }
    for name, specs in (("default_sanctions", rows), ("repeat_sanctions", repeat)):
        specs = (
            (rule.default_sanctions if name == "default_sanctions" else rule.repeat_sanctions)
            if specs is None
            else specs
        )
        data[f"{name}-rows"] = len(specs) + EXTRA_ROWS
        for index, spec in enumerate(specs):
            for key, value in spec.items():
                data[f"{name}-{index}-{key}"] = value
    data.update(extra)
    return data


def change_url(rule: Rule) -> str:
    return reverse("admin:violations_rule_change", args=[rule.pk])


def test_the_change_page_shows_rows_not_json(client, hr):
    client.force_login(hr)
    rule = Rule.objects.get(code="C07")  # demerit + forfeit month + removal
    html = client.get(change_url(rule)).content.decode()
    assert '<table class="sanction-rows" id="id_default_sanctions">' in html
    assert 'name="default_sanctions-rows" value="5"' in html  # 3 rows + 2 blank ones
    assert '<option value="demerit" selected>记过</option>' in html
    assert '<option value="removal" selected>清出群</option>' in html
    for label in ("处分类型", "扣绩效分", "罚款金额(元)", "期限(天)", "删除"):
        assert f"<th>{label}</th>" in html
    assert "[{&quot;kind&quot;" not in html and '{"kind"' not in html


@pytest.mark.parametrize("code", ["C04", "C06", "C07", "R01", "M03"])
def test_saving_unchanged_round_trips_the_json(client, hr, code):
    """R01 (a fine taking the rule's 100 元) could not be saved at all before: the amount was required."""
    client.force_login(hr)
    rule = Rule.objects.get(code=code)
    before = (rule.default_sanctions, rule.repeat_sanctions)
    response = client.post(change_url(rule), rule_post(rule))
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule.refresh_from_db()
    assert (rule.default_sanctions, rule.repeat_sanctions) == before
    assert not LogEntry.objects.get_for_object(rule).exists()  # nothing changed, nothing audited


def test_rows_are_added_typed_and_removed(client, hr):
    client.force_login(hr)
    rule = Rule.objects.get(code="C07")
    rows = [
        {"kind": "demerit", "points": "8"},
        {"kind": "forfeit_month", "delete": "on"},  # removed
        {"kind": "removal", "days": "30"},
        {"kind": "fine", "amount": "200.50"},  # added in a blank row
    ]
    response = client.post(change_url(rule), rule_post(rule, rows))
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule.refresh_from_db()
    assert rule.default_sanctions == [
        {"kind": "demerit", "points": 8},
        {"kind": "removal", "days": 30},
        {"kind": "fine", "amount": "200.50"},
    ]
    entry = LogEntry.objects.get_for_object(rule).get()
    assert entry.actor == hr and entry.additional_data["channel"] == "admin"
    assert "default_sanctions" in entry.changes_dict


def test_blank_rows_in_between_are_ignored(client, hr):
    client.force_login(hr)
    rule = Rule.objects.get(code="C04")
    rows = [{"kind": ""}, {"kind": "warning"}]
    assert client.post(change_url(rule), rule_post(rule, rows)).status_code == 302
    rule.refresh_from_db()
    assert rule.default_sanctions == [{"kind": "warning"}]


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"kind": "warning"}, {"points": "3"}], "第2行 处分类型: 请选择处分类型。"),
        ([{"kind": "warning", "points": "-1"}], "第1行 扣绩效分: 请填写不小于0的整数。"),
        ([{"kind": "warning", "points": "2.5"}], "第1行 扣绩效分: 请填写不小于0的整数。"),
        ([{"kind": "warning", "amount": "50"}], "第1行 罚款金额(元): 只有罚款填写金额。"),
        (
            [{"kind": "warning"}, {"kind": "fine", "amount": "0"}],
            "第2行 罚款金额(元): 请填写大于0、最多两位小数的金额。",
        ),
        ([{"kind": "fine", "amount": "1.005"}], "第1行 罚款金额(元): 请填写大于0、最多两位小数的金额。"),
        ([{"kind": "removal", "days": "0"}], "第1行 期限(天): 请填写不小于1的整数。"),
        ([{"kind": "warning", "days": "7"}], "第1行 期限(天): 只有清出群和禁言填写期限。"),
    ],
)
def test_an_invalid_row_is_named_and_nothing_is_saved(client, hr, rows, message):
    client.force_login(hr)
    rule = Rule.objects.get(code="C04")
    response = client.post(change_url(rule), rule_post(rule, rows))
    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors["default_sanctions"]
    html = response.content.decode()
    assert '<td class="errors">' in html  # the cell is marked where HR typed it
    rule.refresh_from_db()
    assert rule.default_sanctions == [{"kind": "warning"}]


def test_a_fine_without_amount_needs_the_rules_amount(client, hr):
    client.force_login(hr)
    rule = Rule.objects.get(code="C04")  # 罚款金额 0
    response = client.post(change_url(rule), rule_post(rule, [{"kind": "fine"}]))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["default_sanctions"]
    assert "第1项 罚款金额(元): 请填写金额,或在本条款的“罚款金额(元)”中设置。" in errors


def test_repeat_threshold_still_needs_repeat_rows(client, hr):
    client.force_login(hr)
    rule = Rule.objects.get(code="C06")
    response = client.post(change_url(rule), rule_post(rule, repeat=[]))
    assert response.status_code == 200
    assert "设置了重复升级次数时必须填写升级处分。" in response.context["adminform"].form.errors["repeat_sanctions"]


def test_new_rule_from_rows(client, hr):
    client.force_login(hr)
    template = Rule(code="X01", title_zh="测试条款", title_en="Test", category="conduct", fine_amount=0)
    data = rule_post(template, [{"kind": "warning", "points": "3"}, {"kind": "mute", "days": "3"}], repeat=[])
    response = client.post(reverse("admin:violations_rule_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Rule.objects.get(code="X01").default_sanctions == [
        {"kind": "warning", "points": 3},
        {"kind": "mute", "days": 3},
    ]


def test_form_has_changed_only_when_rows_change():
    rule = Rule.objects.get(code="C07")
    form = RuleAdminForm(rule_post(rule), instance=rule)
    assert form.is_valid(), form.errors
    assert "default_sanctions" not in form.changed_data
    form = RuleAdminForm(rule_post(rule, [{"kind": "demerit"}]), instance=rule)
    assert form.is_valid() and "default_sanctions" in form.changed_data


def test_an_error_page_keeps_rows_as_typed_and_saves_them_after_the_fix(client, hr):
    """Re-shown after an error, only the rows HR ticked are marked 删除, and no blank rows pile up."""
    client.force_login(hr)
    rule = Rule.objects.get(code="C07")
    rows = [{"kind": "demerit"}, {"kind": "forfeit_month", "delete": "on"}, {"kind": "removal"}]
    rows.append({"kind": "fine", "amount": "0"})
    html = client.post(change_url(rule), rule_post(rule, rows)).content.decode()
    assert len(re.findall(r'name="default_sanctions-\d+-delete"', html)) == 6
    assert 'name="default_sanctions-rows" value="6"' in html
    assert 'name="default_sanctions-1-delete" aria-label="删除第2行" checked' in html
    for index in (0, 2, 3, 4, 5):
        assert f'name="default_sanctions-{index}-delete" aria-label="删除第{index + 1}行">' in html
    rows[3]["amount"] = "100"
    assert client.post(change_url(rule), rule_post(rule, rows)).status_code == 302
    rule.refresh_from_db()
    assert rule.default_sanctions == [{"kind": "demerit"}, {"kind": "removal"}, {"kind": "fine", "amount": "100"}]

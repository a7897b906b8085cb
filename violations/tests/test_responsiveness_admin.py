"""HR's screens for R01/R03: 指令与通知设置 (seeded, phrases one per line) and 群领导, both audited."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from violations.models import DirectiveSettings, GroupLeader
from violations.models.responsiveness import DEFAULT_ACK_PHRASES

pytestmark = pytest.mark.django_db


def settings_form(client):
    row = DirectiveSettings.load()
    url = reverse("admin:violations_directivesettings_change", args=[row.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False}
    for name in ("directive_phrases", "ack_request_phrases", "ack_phrases"):
        data[name] = "\n".join(data[name])
    data["work_day_start"], data["work_day_end"] = "09:00", "18:00"
    return url, data


def test_seeded_with_defaults():
    row = DirectiveSettings.objects.get()
    assert (row.work_day_start, row.work_day_end) == (datetime.time(9), datetime.time(18))
    assert row.ack_phrases == DEFAULT_ACK_PHRASES and "收到" in row.ack_phrases
    assert "收到请回复" in row.ack_request_phrases and "收到" not in row.ack_request_phrases
    assert row.owner_is_leader and row.department_head_is_leader and not row.any_reply_acknowledges


def test_hr_edits_phrases_one_per_line_audited(client, hr):
    client.force_login(hr)
    url, data = settings_form(client)
    assert "收到\n好的" in client.get(url).content.decode()  # shown one per line, not as JSON
    data["ack_phrases"] = "收到\n\n  已收悉  \nOK\n"
    data["work_day_start"] = "08:30"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = DirectiveSettings.load()
    assert row.ack_phrases == ["收到", "已收悉", "OK"]
    assert row.work_day_start == datetime.time(8, 30)
    entry = LogEntry.objects.get_for_object(row).order_by("pk").last()
    assert entry.actor == hr and entry.additional_data["channel"] == "admin"
    assert "ack_phrases" in entry.changes_dict and "work_day_start" in entry.changes_dict


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ack_phrases", "收到\n收到", "第2个短语“收到”重复。"),
        ("directive_phrases", "请" * 51, "第1个短语: 不能超过 50 个字。"),
        ("work_day_end", "08:00", "上班时间必须早于下班时间。"),
    ],
)
def test_bad_settings_are_refused_with_the_field(client, hr, field, value, message):
    client.force_login(hr)
    url, data = settings_form(client)
    data[field] = value
    response = client.post(url, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert DirectiveSettings.load().work_day_end == datetime.time(18)
    assert DirectiveSettings.load().ack_phrases == DEFAULT_ACK_PHRASES


def test_settings_row_cannot_be_added_or_deleted(client, hr):
    client.force_login(hr)
    assert client.get(reverse("admin:violations_directivesettings_add")).status_code == 403
    row = DirectiveSettings.load()
    assert client.get(reverse("admin:violations_directivesettings_delete", args=[row.pk])).status_code == 403


def test_hr_names_group_leaders_audited(client, hr, org):
    client.force_login(hr)
    add = reverse("admin:violations_groupleader_add")
    response = client.post(add, {"group": org["sales_group"].pk, "employee": org["east_rep"].pk, "note": "副组长"})
    assert response.status_code == 302
    response = client.post(add, {"group": "", "employee": org["ceo"].pk})
    assert response.status_code == 302
    assert set(GroupLeader.objects.values_list("group_id", "employee_id")) == {
        (org["sales_group"].pk, org["east_rep"].pk),
        (None, org["ceo"].pk),
    }
    leader = GroupLeader.objects.get(employee=org["east_rep"])
    assert LogEntry.objects.get_for_object(leader).get().actor == hr
    again = client.post(add, {"group": org["sales_group"].pk, "employee": org["east_rep"].pk})
    assert again.status_code == 200 and "该员工已是此群的领导。" in again.content.decode()
    again = client.post(add, {"group": "", "employee": org["ceo"].pk})
    assert again.status_code == 200 and "该员工已是所有群的领导。" in again.content.decode()
    listing = client.get(reverse("admin:violations_groupleader_changelist"))
    assert listing.status_code == 200 and "所有群" in listing.content.decode()

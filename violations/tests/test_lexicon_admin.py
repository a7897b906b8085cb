"""The lexicon's admin: CSV import (UTF-8 and GBK, whole file refused on a bad row), audit, permissions."""

from __future__ import annotations

import re

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from violations.models import LexiconEntry

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:violations_lexiconentry_import")
PROCESS = reverse("admin:violations_lexiconentry_process_import")


def upload(client, text: str, encoding: str = "utf-8-sig"):
    file = SimpleUploadedFile("lexicon.csv", text.encode(encoding), content_type="text/csv")
    return client.post(IMPORT, {"import_file": file, "format": "0", "resource": "0"})


def confirm(client, response):
    page = response.content.decode()
    name = re.search(r'name="import_file_name" value="([^"]+)"', page).group(1)
    original = re.search(r'name="original_file_name" value="([^"]+)"', page).group(1)
    return client.post(PROCESS, {"import_file_name": name, "original_file_name": original, "format": "0",
                                 "resource": "0"})  # fmt: skip


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_import_words_in_either_encoding(hr_client, encoding):
    before = LexiconEntry.objects.count()
    csv = (
        "条款编号,类型,内容,备注\nS01,词语,研发 路线图,新增\nc06,pattern,加*群*领,\n"
        "C02,链接域名,www.Bad-Site.example.com,\n"
    )
    response = upload(hr_client, csv, encoding)
    assert response.status_code == 200 and "import_file_name" in response.content.decode()
    assert confirm(hr_client, response).status_code == 302
    assert LexiconEntry.objects.count() == before + 3
    entry = LexiconEntry.objects.get(text="研发路线图")
    assert (entry.rule.code, entry.kind, entry.active, entry.note) == ("S01", "word", True, "新增")
    assert entry.created_by is not None
    assert LexiconEntry.objects.filter(kind="domain", text="bad-site.example.com").exists()
    assert LogEntry.objects.get_for_object(entry).exists()


def test_reimport_matches_existing_entries_by_match_form(hr_client):
    before = LexiconEntry.objects.count()
    response = upload(hr_client, "条款编号,类型,内容,启用\nC06,词语,加 微 信,0\n")
    confirm(hr_client, response)
    assert LexiconEntry.objects.count() == before
    assert LexiconEntry.objects.get(rule__code="C06", text="加微信").active is False


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("条款编号,类型,内容\nS01,词语,新词甲\nX99,词语,新词乙\n", "没有可用词库的条款"),
        ("条款编号,类型,内容\nS01,词语,新词甲\nS01,词语,新 词 甲\n", "与第"),
        ("条款编号,类型,内容\nS01,词语,新词甲\nS01,正则,a+\n", "未知的类型"),
        ("条款编号,类型,内容\nS01,词语,新词甲\nS01,通配模式,*甲乙\n", "不能以"),
        ("条款编号,内容\nS01,新词甲\n", "缺少列"),
    ],
)
def test_a_bad_row_refuses_the_whole_file(hr_client, csv, message):
    before = LexiconEntry.objects.count()
    response = upload(hr_client, csv)
    assert message in response.content.decode()
    assert "import_file_name" not in response.content.decode()
    assert LexiconEntry.objects.count() == before


def test_auditor_sees_but_cannot_import_or_change(client, auditor):
    client.force_login(auditor)
    assert client.get(reverse("admin:violations_lexiconentry_changelist")).status_code == 200
    assert client.get(IMPORT).status_code == 403
    entry = LexiconEntry.objects.first()
    response = client.post(reverse("admin:violations_lexiconentry_change", args=[entry.pk]), {"text": "x"})
    assert response.status_code == 403


def test_hr_adds_and_deactivates_an_entry(hr_client):
    from violations.models import Rule

    rule = Rule.objects.get(code="B02")
    response = hr_client.post(
        reverse("admin:violations_lexiconentry_add"),
        {"rule": rule.pk, "kind": "word", "text": "ＡＢ 笨蛋", "active": "on"},
    )
    assert response.status_code == 302
    entry = LexiconEntry.objects.get(rule=rule, text="ab笨蛋")
    hr_client.post(
        reverse("admin:violations_lexiconentry_changelist"),
        {"action": "deactivate", "_selected_action": [entry.pk]},
    )
    entry.refresh_from_db()
    assert entry.active is False and LogEntry.objects.get_for_object(entry).count() == 2


@pytest.fixture
def hr_client(client, hr):
    client.force_login(hr)
    return client

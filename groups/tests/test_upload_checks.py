"""The one upload check (``groups.forms.check_upload``) both upload forms use."""

from __future__ import annotations

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile

from groups.forms import ALLOWED_SUFFIXES, check_upload

ROSTER = {"kinds": ALLOWED_SUFFIXES, "max_bytes": 100, "suffix_message": "suffix"}
CHAT = {"kinds": dict.fromkeys([".jsonl", ".txt"], "csv"), "max_bytes": 100, "suffix_message": "suffix",
        "kind_message": "not text"}  # fmt: skip


@pytest.mark.parametrize(
    ("options", "name", "content", "error"),
    [
        (ROSTER, "a.pdf", b"x", "suffix"),
        (ROSTER, "a.csv", b"x" * 101, "文件太大"),
        (ROSTER, "a.csv", b"  \n ", "文件为空"),
        (ROSTER, "a.xlsx", "工号,姓名\n".encode(), "不是有效的 XLSX 文件"),
        (CHAT, "a.csv", b"{}", "suffix"),
        (CHAT, "a.jsonl", b"PK\x03\x04zip", "not text"),
        (CHAT, "a.txt", b"", "文件为空"),
    ],
)
def test_refused(options, name, content, error):
    with pytest.raises(forms.ValidationError) as refused:
        check_upload(SimpleUploadedFile(name, content), **options)
    assert error in str(refused.value)


def test_accepted_and_rewound():
    upload = SimpleUploadedFile("a.JSONL", b'{"msgid": "1"}\n')
    assert check_upload(upload, **CHAT) is upload
    assert upload.read(1) == b"{"  # the sniffed head is read again by the import

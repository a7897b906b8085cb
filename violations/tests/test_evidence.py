"""Evidence upload checks: extension AND content must agree; size capped; nothing half-written."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from violations import services
from violations.evidence import check_evidence_file, sniff
from violations.models import Evidence, Rule, Violation

from .conftest import at

SAMPLES = {
    "a.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 16,
    "a.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 16,
    "a.jpeg": b"\xff\xd8\xff\xe1" + b"\x00" * 16,
    "a.gif": b"GIF89a" + b"\x00" * 16,
    "a.webp": b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 16,
    "a.PDF": b"%PDF-1.7\n" + b"\x00" * 16,
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_accepted_types(name):
    checked = check_evidence_file(SimpleUploadedFile(name, SAMPLES[name]))
    assert checked.size == len(SAMPLES[name]) and len(checked.sha256) == 64


@pytest.mark.parametrize(
    "name,content",
    [
        ("virus.exe", b"MZ\x90\x00"),
        ("shot.png", b"MZ\x90\x00 windows binary"),  # fake extension
        ("shot.jpg", SAMPLES["a.png"]),  # a real PNG named .jpg: extension and content disagree
        ("doc.pdf", b"<html><script>alert(1)</script>"),
        ("noext", SAMPLES["a.png"]),
        ("image.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
    ],
)
def test_rejected_types(name, content):
    with pytest.raises(ValidationError) as exc:
        check_evidence_file(SimpleUploadedFile(name, content))
    assert name in str(exc.value)


def test_too_big(settings):
    settings.EVIDENCE_UPLOAD_MAX_BYTES = 100
    with pytest.raises(ValidationError) as exc:
        check_evidence_file(SimpleUploadedFile("big.png", SAMPLES["a.png"] + b"\x00" * 200))
    assert "big.png" in str(exc.value)


def test_sniff_unknown():
    assert sniff(b"hello") is None


def test_one_bad_file_stores_nothing(hr, org):
    files = [SimpleUploadedFile("ok.png", SAMPLES["a.png"]), SimpleUploadedFile("bad.gif", b"nope")]
    with pytest.raises(ValidationError) as exc:
        services.record_violation(
            org["east_rep"], Rule.objects.get(code="C04"), at(2026, 11, 1, 9), "x", acting_user=hr, evidence_files=files
        )
    assert "bad.gif" in str(exc.value)
    assert not Violation.objects.exists() and not Evidence.objects.exists()


def test_stored_privately_under_media_root_with_random_name(hr, org, settings):
    violation = services.record_violation(
        org["east_rep"],
        Rule.objects.get(code="C04"),
        at(2026, 11, 1, 9),
        "x",
        acting_user=hr,
        evidence_files=[SimpleUploadedFile("../../etc/passwd.png", SAMPLES["a.png"])],
    )
    item = violation.evidence.get()
    assert item.original_name == "passwd.png"
    assert item.file.name.startswith("evidence/") and "passwd" not in item.file.name
    assert item.file.path.startswith(str(settings.MEDIA_ROOT))

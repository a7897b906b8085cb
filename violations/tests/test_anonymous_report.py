"""An anonymous report leaves nothing that links it to the account or the address: no user id or
request id in the logs, no correlation id or exact time in the audit trail or the rows, no metadata
or original name in the evidence."""

from __future__ import annotations

import datetime
import io
import json
import logging
import os

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image, PngImagePlugin

from portal.audit import report_time
from portal.logging import ContextFilter, JsonFormatter
from violations.models import Evidence, Rule, Violation

pytestmark = pytest.mark.django_db

PROXY_REQUEST_ID = "nginx-rid-5f2a9c31d4e8"  # what nginx logs next to the client address
SECRETS = ("ReporterPhone", "Galaxy S26", "孙七的手机", "IMG_20261102_221000")


def report_data(org, *, anonymous=True, **extra):
    return {
        "person": org["east_rep"].employee_no,
        "rule": Rule.objects.get(code="B02").pk,
        "occurred_at": "2026-11-02T22:10",
        "description": "在群里辱骂同事",
        "is_anonymous": "on" if anonymous else "",
        **extra,
    }


def jpeg_with_exif() -> bytes:
    """A 32x16 photo whose EXIF says rotate 90°, names the phone and its owner, and holds a GPS fix."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "ReporterPhone"
    exif[ExifTags.Base.Model] = "Galaxy S26"
    exif[ExifTags.Base.Artist] = "孙七的手机"
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.DateTime] = "2026:11:02 22:10:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 13.0, 50.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 30.0)
    out = io.BytesIO()
    Image.new("RGB", (32, 16), "red").save(out, "JPEG", exif=exif, comment=b"ReporterPhone")
    data = out.getvalue()
    assert b"ReporterPhone" in data and Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Author", "孙七的手机")
    info.add_text("Software", "ReporterPhone")
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


@pytest.fixture
def reporter(group_admin):
    return group_admin  # 孙七 of 技术部


class JsonLines(logging.Handler):
    """Every log line as production writes it (the context filter runs when the line is emitted)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(ContextFilter())
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines():
    handler = JsonLines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def post_report(client, org, **extra):
    return client.post(reverse("violations:report"), report_data(org, **extra), HTTP_X_REQUEST_ID=PROXY_REQUEST_ID)


def test_request_log_and_audit_carry_no_user_and_no_request_id(client, reporter, org, log_lines):
    client.force_login(reporter)
    response = post_report(client, org)
    assert response.status_code == 302
    assert "X-Request-ID" not in response  # the proxy's id is not echoed either
    request_lines = [line for line in log_lines if line["logger"] == "qungui.request"]
    assert [line["path"] for line in request_lines] == ["/violations/report/"]
    assert request_lines[0]["user_id"] is None and "request_id" not in request_lines[0]
    text = json.dumps(log_lines, ensure_ascii=False)
    assert PROXY_REQUEST_ID not in text and f'"user_id": {reporter.pk}' not in text
    violation = Violation.objects.get()
    entries = LogEntry.objects.filter(additional_data__anonymous=True)
    assert entries.count() == 1 and all(entry.cid is None for entry in entries)
    assert not LogEntry.objects.filter(cid=PROXY_REQUEST_ID).exists()
    assert violation.is_anonymous and violation.reporter is None


def test_named_reports_are_logged_alike(client, reporter, org, log_lines):
    """The log cannot tell a named report from an anonymous one: neither names the user."""
    client.force_login(reporter)
    assert post_report(client, org, anonymous=False).status_code == 302
    line = next(line for line in log_lines if line["logger"] == "qungui.request")
    assert line["user_id"] is None and "request_id" not in line
    assert Violation.objects.get().reporter == reporter  # the row keeps the named reporter


def test_other_pages_keep_their_request_id(client, reporter, log_lines):
    client.force_login(reporter)
    response = client.get(reverse("violations:mine"), HTTP_X_REQUEST_ID=PROXY_REQUEST_ID)
    assert response["X-Request-ID"] == PROXY_REQUEST_ID
    line = next(line for line in log_lines if line["logger"] == "qungui.request")
    assert line["request_id"] == PROXY_REQUEST_ID and line["user_id"] == reporter.pk


def test_stored_times_are_coarsened_to_the_hour(client, reporter, org):
    client.force_login(reporter)
    shot = SimpleUploadedFile("IMG_20261102_221000.jpg", jpeg_with_exif(), content_type="image/jpeg")
    before = timezone.now()
    assert post_report(client, org, evidence=[shot]).status_code == 302
    after = timezone.now()
    hours = {report_time(before), report_time(after)}
    violation = Violation.objects.get()
    evidence = Evidence.objects.get()
    assert violation.created_at in hours and violation.updated_at == violation.created_at
    assert evidence.uploaded_at == violation.created_at
    local = timezone.localtime(violation.created_at)
    assert (local.minute, local.second, local.microsecond) == (0, 0, 0)
    entries = LogEntry.objects.filter(additional_data__anonymous=True)
    assert entries.count() == 2 and {entry.timestamp for entry in entries} == {violation.created_at}
    recorded = {json.dumps(entry.changes, ensure_ascii=False) for entry in entries}
    assert all(str(before.time())[:8] not in text for text in recorded)  # no exact time in the changes
    assert os.path.getmtime(evidence.file.path) == violation.created_at.timestamp()


def test_named_report_keeps_exact_times(client, reporter, org):
    client.force_login(reporter)
    before = timezone.now()
    post_report(client, org, anonymous=False)
    assert before <= Violation.objects.get().created_at <= timezone.now()


def test_report_time_is_the_start_of_the_hour_in_shanghai():
    moment = datetime.datetime(2026, 11, 2, 14, 37, 5, 123456, tzinfo=datetime.UTC)
    assert report_time(moment) == datetime.datetime(2026, 11, 2, 14, 0, tzinfo=datetime.UTC)
    assert timezone.localtime(report_time(moment)).hour == 22


def test_evidence_images_lose_metadata_and_name(client, reporter, hr, org):
    client.force_login(reporter)
    files = [
        SimpleUploadedFile("IMG_20261102_221000.jpg", jpeg_with_exif(), content_type="image/jpeg"),
        SimpleUploadedFile("孙七的手机截图.png", png_with_text(), content_type="image/png"),
    ]
    assert post_report(client, org, evidence=files).status_code == 302
    photo, screenshot = Evidence.objects.order_by("pk")
    assert (photo.original_name, screenshot.original_name) == ("evidence-1.jpeg", "evidence-2.png")
    for item in (photo, screenshot):
        data = item.file.read()
        item.file.close()
        assert item.size == len(data) and len(item.sha256) == 64
        for secret in SECRETS:
            assert secret.encode() not in data and secret.encode("utf-16-le") not in data
            assert secret not in item.file.name
        image = Image.open(io.BytesIO(data))
        assert not image.getexif() and "exif" not in image.info and "comment" not in image.info
        assert not {"Author", "Software", "icc_profile", "xmp"} & set(image.info)
    assert Image.open(photo.file.path).size == (16, 32)  # the EXIF rotation is kept in the pixels
    assert Image.open(screenshot.file.path).mode == "RGBA"
    client.force_login(hr)  # HR downloads it under the new name too
    response = client.get(reverse("violations:evidence", args=[photo.pk]))
    assert 'filename="evidence-1.jpeg"' in response["Content-Disposition"]
    for secret in SECRETS:
        assert secret not in json.dumps(list(LogEntry.objects.values("changes", "object_repr")), ensure_ascii=False)


def test_named_report_evidence_is_kept_as_uploaded(client, reporter, org):
    client.force_login(reporter)
    original = jpeg_with_exif()
    shot = SimpleUploadedFile("IMG_20261102_221000.jpg", original, content_type="image/jpeg")
    assert post_report(client, org, anonymous=False, evidence=[shot]).status_code == 302
    evidence = Evidence.objects.get()
    assert evidence.original_name == "IMG_20261102_221000.jpg" and evidence.file.read() == original


def test_pdf_and_broken_images_are_refused_for_anonymous_reports(client, reporter, org):
    client.force_login(reporter)
    files = [
        SimpleUploadedFile("孙七-说明.pdf", b"%PDF-1.7\n/Author (Sun Qi)\n", content_type="application/pdf"),
        SimpleUploadedFile("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png"),
    ]
    response = post_report(client, org, evidence=files)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].non_field_errors())
    assert "孙七-说明.pdf" in errors and "PDF" in errors and "broken.png" in errors
    assert not Violation.objects.exists() and not Evidence.objects.exists()


def test_oversized_image_is_refused_before_decoding(client, reporter, org, monkeypatch):
    import violations.evidence

    monkeypatch.setattr(violations.evidence, "MAX_SCRUB_PIXELS", 100)
    client.force_login(reporter)
    shot = SimpleUploadedFile("big.jpg", jpeg_with_exif(), content_type="image/jpeg")
    response = post_report(client, org, evidence=[shot])
    assert "big.jpg" in " ".join(response.context["form"].non_field_errors())
    assert not Violation.objects.exists()


def test_animated_gif_keeps_its_frames(client, reporter, org):
    frames = [Image.new("RGB", (10, 10), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0, comment=b"ReporterPhone")
    assert Image.open(io.BytesIO(out.getvalue())).n_frames == 3 and b"ReporterPhone" in out.getvalue()
    client.force_login(reporter)
    shot = SimpleUploadedFile("anim.gif", out.getvalue(), content_type="image/gif")
    assert post_report(client, org, evidence=[shot]).status_code == 302
    stored = Evidence.objects.get()
    data = stored.file.read()
    assert b"ReporterPhone" not in data
    assert Image.open(io.BytesIO(data)).n_frames == 3


def test_service_blanks_the_correlation_id_whoever_calls_it(org, reporter):
    """Not only the report page: any caller's request or task id stays out of the anonymous rows."""
    from portal.logging import request_id_var
    from violations import services

    token = request_id_var.set(PROXY_REQUEST_ID)
    try:
        services.report_violation(
            org["east_rep"], Rule.objects.get(code="B02"), timezone.now(), "x", acting_user=reporter, is_anonymous=True
        )
    finally:
        request_id_var.reset(token)
    entry = LogEntry.objects.get(content_type__model="violation")
    assert entry.cid is None and entry.additional_data["anonymous"] is True

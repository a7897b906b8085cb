"""Checks for uploaded evidence: extension AND content (magic bytes) must agree; size is capped."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from .choices import EvidenceType

EXTENSIONS = {
    ".png": EvidenceType.PNG,
    ".jpg": EvidenceType.JPEG,
    ".jpeg": EvidenceType.JPEG,
    ".gif": EvidenceType.GIF,
    ".webp": EvidenceType.WEBP,
    ".pdf": EvidenceType.PDF,
}


@dataclass(frozen=True)
class CheckedFile:
    upload: object
    name: str
    file_type: str
    size: int
    sha256: str


def sniff(head: bytes) -> str | None:
    """The evidence type the first bytes show, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return EvidenceType.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return EvidenceType.JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return EvidenceType.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return EvidenceType.WEBP
    if head.startswith(b"%PDF-"):
        return EvidenceType.PDF
    return None


def check_evidence_file(upload) -> CheckedFile:
    """Validate one uploaded file; the error names the file. Reads it once (hash) in chunks."""
    name = PurePath(upload.name or "").name
    limit = settings.EVIDENCE_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            _("文件 %(name)s 太大(%(size)s),上限 %(limit)s。"),
            params={"name": name, "size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
        )
    declared = EXTENSIONS.get(PurePath(name).suffix.lower())
    if declared is None:
        raise ValidationError(_("文件 %(name)s: 只接受 PNG、JPG、GIF、WebP 图片或 PDF。"), params={"name": name})
    upload.seek(0)
    actual = sniff(upload.read(16))
    if actual != declared:
        raise ValidationError(
            _("文件 %(name)s 的内容与扩展名不符(不是真正的 %(ext)s 文件)。"),
            params={"name": name, "ext": declared.label},
        )
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return CheckedFile(upload=upload, name=name, file_type=declared, size=upload.size, sha256=digest.hexdigest())


def check_evidence_files(uploads) -> list[CheckedFile]:
    """Validate every file before anything is written; all errors are reported together."""
    checked, errors = [], []
    for upload in uploads:
        try:
            checked.append(check_evidence_file(upload))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    return checked

"""Checks for uploaded evidence: extension AND content (magic bytes) must agree; size is capped.

Evidence of an anonymous report is also scrubbed (``scrub_for_anonymous_report``): images are
re-encoded by Pillow without their metadata (EXIF with GPS position, camera serial and time, XMP,
ICC profiles, comments, PNG text chunks) and renamed; PDFs are refused, since their author and
producer fields cannot be cleared here.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, replace
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
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


# --- anonymous reports --------------------------------------------------------------------------

PILLOW_FORMATS = {
    EvidenceType.PNG: "PNG",
    EvidenceType.JPEG: "JPEG",
    EvidenceType.GIF: "GIF",
    EvidenceType.WEBP: "WEBP",
}
# Image.info keys that say how to draw the picture, not where it came from; everything else goes.
RENDERING_INFO = frozenset({"transparency", "duration", "loop", "background", "disposal"})
# Decoding is bounded: pixels of all frames together (an 8000 x 5000 photo is 40 M).
MAX_SCRUB_PIXELS = 60_000_000


def anonymous_name(index: int, file_type: str) -> str:
    """The stored and shown name of an anonymous report's ``index``-th file (from 1)."""
    return f"evidence-{index}.{file_type}"


def scrub_for_anonymous_report(files: list[CheckedFile]) -> list[CheckedFile]:
    """Checked files of an anonymous report, metadata stripped and renamed; all errors together."""
    scrubbed, errors = [], []
    for index, checked in enumerate(files, start=1):
        try:
            scrubbed.append(strip_metadata(checked, name=anonymous_name(index, checked.file_type)))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    return scrubbed


def strip_metadata(checked: CheckedFile, *, name: str) -> CheckedFile:
    """The image re-encoded without metadata, under ``name``. Raises ValidationError naming the file."""
    from PIL import Image, ImageOps, ImageSequence

    if checked.file_type not in PILLOW_FORMATS:
        raise ValidationError(
            _(
                "文件 %(name)s: 匿名举报只接受图片(PNG、JPG、GIF、WebP)。PDF 可能含有作者等信息,"
                "系统无法清除;请截图后上传,或取消匿名。"
            ),
            params={"name": checked.name},
        )
    unreadable = ValidationError(
        _("文件 %(name)s 无法作为图片读取,无法清除其中的元数据(如拍摄地点)。"), params={"name": checked.name}
    )
    fmt = PILLOW_FORMATS[checked.file_type]
    checked.upload.seek(0)
    try:
        with Image.open(checked.upload, formats=[fmt]) as image:
            frames = getattr(image, "n_frames", 1)
            if image.width * image.height * frames > MAX_SCRUB_PIXELS:
                raise ValidationError(
                    _("文件 %(name)s 的图片尺寸过大(%(w)s×%(h)s,%(n)s 帧),请缩小后上传。"),
                    params={"name": checked.name, "w": image.width, "h": image.height, "n": frames},
                )
            if frames == 1:
                # Bake the EXIF orientation into the pixels before the EXIF goes.
                pictures = [_bare(ImageOps.exif_transpose(image))]
            else:
                pictures = [_bare(frame) for frame in ImageSequence.Iterator(image)]
            out = io.BytesIO()
            options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
            if len(pictures) > 1:
                options.update(save_all=True, append_images=pictures[1:])
            pictures[0].save(out, format=fmt, **options)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise unreadable from exc
    data = out.getvalue()
    upload = ContentFile(data, name=name)
    return replace(checked, upload=upload, name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def _bare(frame):
    """A copy of one frame keeping only the pixels and how to draw them."""
    picture = frame.copy()
    picture.info = {key: value for key, value in frame.info.items() if key in RENDERING_INFO}
    return picture

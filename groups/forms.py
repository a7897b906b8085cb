"""Forms of the organisation screens."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .choices import ImportKind
from .importing.readers import sniff_kind
from .models import ChatGroup

# .txt: Excel's "Unicode text" (UTF-16, tab-separated) is saved under that name.
ALLOWED_SUFFIXES = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx"}


def check_upload(
    upload: UploadedFile,
    *,
    kinds: Mapping[str, str],
    max_bytes: int,
    suffix_message: str,
    kind_message: str | None = None,
) -> UploadedFile:
    """The checks every upload form makes, in this order: the suffix is one of ``kinds`` (suffix →
    the content kind ``sniff_kind`` must find), the size is within ``max_bytes``, the file is not
    empty and its first bytes are of the expected kind (a renamed zip, UTF-16 without a BOM…)."""
    expected = kinds.get(Path(upload.name).suffix.lower())
    if expected is None:
        raise forms.ValidationError(suffix_message)
    if upload.size > max_bytes:
        raise forms.ValidationError(_("文件太大(上限 %(max)s)") % {"max": filesizeformat(max_bytes)})
    head = upload.read(4096)
    upload.seek(0)
    if not head.strip():
        raise forms.ValidationError(_("文件为空"))
    if sniff_kind(head) != expected:
        raise forms.ValidationError(
            kind_message or _("文件内容与扩展名不符(不是有效的 %(kind)s 文件)") % {"kind": expected.upper()}
        )
    return upload


class RosterUploadForm(forms.Form):
    """Upload of an employee roster or a group roster: suffix, size and content are all checked."""

    file = forms.FileField(label=_("文件"), help_text=_("CSV(UTF-8、GBK 或 Excel 的 Unicode 文本)或 XLSX"))
    group = forms.ModelChoiceField(
        label=_("目标群"),
        queryset=ChatGroup.objects.none(),
        required=False,
        help_text=_("文件没有“群名称”列时,成员导入到此群"),
    )

    def __init__(self, *args, kind: str, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == ImportKind.GROUP:
            self.fields["group"].queryset = ChatGroup.objects.visible_to(user).active().order_by("name")
        else:
            del self.fields["group"]

    def clean_file(self):
        return check_upload(
            self.cleaned_data["file"],
            kinds=ALLOWED_SUFFIXES,
            max_bytes=settings.ROSTER_UPLOAD_MAX_BYTES,
            suffix_message=_("只支持 .csv、.txt 和 .xlsx 文件"),
        )

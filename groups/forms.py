"""Forms of the organisation screens."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .choices import ImportKind
from .importing.readers import sniff_kind
from .models import ChatGroup

# .txt: Excel's "Unicode text" (UTF-16, tab-separated) is saved under that name.
ALLOWED_SUFFIXES = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx"}


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
        upload = self.cleaned_data["file"]
        expected = ALLOWED_SUFFIXES.get(Path(upload.name).suffix.lower())
        if expected is None:
            raise forms.ValidationError(_("只支持 .csv、.txt 和 .xlsx 文件"))
        if upload.size > settings.ROSTER_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("文件太大(上限 %(max)s)") % {"max": filesizeformat(settings.ROSTER_UPLOAD_MAX_BYTES)}
            )
        head = upload.read(4096)
        upload.seek(0)
        if not head.strip():
            raise forms.ValidationError(_("文件为空"))
        if sniff_kind(head) != expected:
            raise forms.ValidationError(
                _("文件内容与扩展名不符(不是有效的 %(kind)s 文件)") % {"kind": expected.upper()}
            )
        return upload

"""The chat-export upload: suffix, size and content checked as the roster upload's are."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from ..choices import CHAT_FORMAT_CHOICES
from ..importing.readers import sniff_kind
from ..models import ChatGroup

CHAT_SUFFIXES = {".jsonl", ".json", ".txt", ".csv"}


class ChatUploadForm(forms.Form):
    file = forms.FileField(
        label=_("文件"),
        help_text=_("企业微信会话存档(解密后 JSONL)、留痕/WeChatMsg 导出的 CSV 或 QQ 消息管理器导出的 TXT"),
    )
    group = forms.ModelChoiceField(label=_("群"), queryset=ChatGroup.objects.none())
    platform = forms.ChoiceField(label=_("格式"), choices=CHAT_FORMAT_CHOICES, required=False)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = ChatGroup.objects.visible_to(user).order_by("name")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in CHAT_SUFFIXES:
            raise forms.ValidationError(_("只支持 .jsonl、.json、.csv 和 .txt 文件"))
        if upload.size > settings.CHAT_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("文件太大(上限 %(max)s)") % {"max": filesizeformat(settings.CHAT_UPLOAD_MAX_BYTES)}
            )
        head = upload.read(4096)
        upload.seek(0)
        if not head.strip():
            raise forms.ValidationError(_("文件为空"))
        if sniff_kind(head) != "csv":  # a zip, an image, UTF-16 without a BOM: no text export
            raise forms.ValidationError(_("不是文本格式的聊天记录文件"))
        return upload

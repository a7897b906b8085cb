"""The chat-export upload: suffix, size and content checked as the roster upload's are."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..choices import CHAT_FORMAT_CHOICES
from ..forms import check_upload
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
        return check_upload(
            self.cleaned_data["file"],
            kinds=dict.fromkeys(CHAT_SUFFIXES, "csv"),  # every chat export is text
            max_bytes=settings.CHAT_UPLOAD_MAX_BYTES,
            suffix_message=_("只支持 .jsonl、.json、.csv 和 .txt 文件"),
            kind_message=_("不是文本格式的聊天记录文件"),  # a zip, an image, UTF-16 without a BOM
        )

"""Shared set-up of the chat-import tests: groups on each platform with the samples' ids."""

from __future__ import annotations

import json
from pathlib import Path

from groups.models import ChatGroup, Membership

FIXTURES = Path(__file__).parent / "fixtures" / "chat"
WECOM = FIXTURES / "wecom_msgaudit_decrypted.jsonl"
WECHAT = FIXTURES / "wechatmsg_liuhen_group_utf8.csv"
QQ = FIXTURES / "qq_message_manager_export.txt"
QQ_GBK = FIXTURES / "qq_gbk_english_locale.txt"
ROOM = "wrNplhCgAAIVZohLe57zKnvIV7xBKrig"


def wecom_group(org) -> ChatGroup:
    group = org["tech_group"]
    group.external_id = ROOM
    group.save(update_fields=["external_id"])
    return group


def qq_group(org, name="销售中心工作群") -> ChatGroup:
    return ChatGroup.objects.create(name=name, platform="qq", kind="department", department=org["sales"])


def member(group, platform_id, nickname, employee=None) -> Membership:
    return Membership.objects.create(group=group, platform_id=platform_id, nickname=nickname, employee=employee)


def wecom_lines(*numbers: int) -> str:
    """The sample's lines (1-based) as a new file's text."""
    lines = WECOM.read_text(encoding="utf-8").splitlines()
    return "\n".join(lines[n - 1] for n in numbers) + "\n"


def wecom_row(msgid: str, text: str = "hi", roomid: str = ROOM, msgtime: int = 1793581205000, **extra) -> str:
    row = {"msgid": msgid, "action": "send", "from": "ZhangSan", "tolist": [], "roomid": roomid,
           "msgtime": msgtime, "msgtype": "text", "text": {"content": text}, **extra}  # fmt: skip
    return json.dumps(row, ensure_ascii=False)

"""Hand-built chat rooms for the R01 / R03 detector tests: members, leaders and a message helper."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from groups.chat.records import parse_mentions
from groups.models import ChatGroup, ChatMessage, Employee, Membership
from violations.detection.base import Detector, Hit, Window, hits

_keys = itertools.count(1)


@dataclass
class Room:
    group: ChatGroup
    leader: Membership  # 李销售: owner of the group and head of 销售部
    zhang: Membership  # 张三, 华东区 (a sub-department of 销售部)
    wang: Membership  # 王五, 销售部
    sun: Membership  # 孙七, 技术部 (another department), admin of the group
    other: ChatGroup  # 技术部工作群: 张三 is a member there too


def build_room(org) -> Room:
    """The ``room`` fixture (violations/tests/conftest.py)."""
    group = org["sales_group"]
    wang = Employee.objects.create(employee_no="E0103", name="王五", department=org["sales"], wechat_id="wx_wang")
    other = org["tech_group"]
    Membership.objects.create(group=other, platform_id="ZhangSan", nickname="张三", employee=org["east_rep"])
    return Room(
        group=group,
        leader=member(group, "wx_li", "销售部-李销售", org["sales_head"]),
        zhang=member(group, "wx_zhangsan", "华东区-张三", org["east_rep"]),
        wang=member(group, "wx_wang", "销售部-王五", wang),
        sun=member(group, "wx_sun", "技术部-孙七", org["tech_dev"]),
        other=other,
    )


def member(group, platform_id, nickname, employee=None, **kw) -> Membership:
    return Membership.objects.create(group=group, platform_id=platform_id, nickname=nickname, employee=employee, **kw)


def say(who: Membership | None, when, text: str = "好的", *, group=None, platform_id: str = "", **kw) -> ChatMessage:
    """A message as the importer stores it: sender matched to the membership and its employee, the
    @-mentions parsed from the text."""
    group = group or who.group
    mentions, everyone = parse_mentions(text)
    fields = {"mentions": mentions, "mentions_all": everyone, "kind": "text", **kw}
    if kw.get("recalled"):
        fields["recalled_at"] = when
    return ChatMessage.objects.create(
        group=group,
        platform=group.platform,
        natural_key=f"k{next(_keys)}",
        sender_platform_id=platform_id or (who.platform_id if who else ""),
        sender_name=who.nickname if who else platform_id,
        membership=who if who and who.group_id == group.pk else None,
        employee=who.employee if who else None,
        sent_at=when,
        text=text,
        **fields,
    )


def run(detector: Detector, now, since=None, until=None, group_ids=None) -> list[Hit]:
    return list(hits(detector, Window(since=since, until=until, now=now, group_ids=group_ids)))


def people(found: list[Hit]) -> list[str]:
    """Who each hit names (employee name or the raw platform id), sorted."""
    names = dict(Employee.objects.values_list("pk", "name"))
    return sorted(names[h.employee_id] if h.employee_id else h.sender_platform_id for h in found)

"""Believable demo violations for the demo company (called by portal/dashboard's seed_demo command).

Uses only existing Employees and ChatGroups and goes through the services, so the ladder, the
appeal deadlines and the audit trail are exactly what real use would produce.
"""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from groups.models import ChatGroup, Employee, Membership

from . import services
from .choices import AppealStatus
from .models import Rule

# How often each rule is broken in a typical company: reminders are common, leaks are rare.
RULE_WEIGHTS = {
    "C08": 14, "B06": 12, "R03": 12, "C09": 8, "M03": 8, "C06": 6, "R01": 6, "R02": 4, "C10": 4,
    "B05": 4, "C05": 3, "B03": 3, "M01": 3, "M02": 2, "C04": 2, "M04": 1, "B02": 1, "B01": 1,
    "C07": 1, "S02": 1, "S01": 0.5, "S03": 0.5, "B04": 0.5, "C02": 0.3, "C01": 0.2, "C03": 0.1,
}  # fmt: skip

DESCRIPTIONS = {
    "C08": "工作时间在群内分享购物链接和短视频",
    "B06": "凌晨在群内连续发送多条与工作无关的消息",
    "R03": "部门通知发布后未回复“收到”",
    "C09": "发送超过200字的长文未使用链接",
    "M03": "群昵称未按“部门-姓名”规范修改",
    "C06": "在工作群发布保险产品广告",
    "R01": "领导指令发布后超过30分钟未回复",
    "R02": "客户问题反复推诿,拖延处理",
    "C10": "短时间内连续发送二十余张图片刷屏",
    "B05": "在群内发红包",
}


def _moment(rng: random.Random, days_ago_max: int) -> datetime.datetime:
    day = timezone.localdate() - datetime.timedelta(days=rng.randint(3, days_ago_max))
    hour = rng.choice([9, 10, 11, 14, 15, 16, 17, 23])
    naive = datetime.datetime.combine(day, datetime.time(hour, rng.randint(0, 59)))
    return timezone.make_aware(naive)


def _group_for(employee: Employee, rng: random.Random) -> ChatGroup | None:
    ids = list(Membership.objects.filter(employee=employee).values_list("group_id", flat=True)[:20])
    if not ids:
        ids = list(ChatGroup.objects.filter(department=employee.department).values_list("pk", flat=True)[:20])
    return ChatGroup.objects.filter(pk=rng.choice(ids)).first() if ids else None


def seed_violations(rng: random.Random, count: int | None = None) -> int:
    """Create about ``count`` violations (default: one per five active employees, 20–400) over 14 months."""
    employees = list(Employee.objects.active().order_by("pk").values_list("pk", flat=True))
    if not employees:
        return 0
    count = count or max(20, min(400, len(employees) // 5))
    rules = {r.code: r for r in Rule.objects.filter(is_active=True)}
    codes = [c for c in RULE_WEIGHTS if c in rules]
    weights = [RULE_WEIGHTS[c] for c in codes]
    # Repeat offenders make the ladder visible: a tenth of the people commit half the violations.
    regulars = rng.sample(employees, max(1, len(employees) // 10))
    plans = []
    for _ in range(count):
        pk = rng.choice(regulars) if rng.random() < 0.5 else rng.choice(employees)
        plans.append((_moment(rng, 425), pk, rng.choices(codes, weights)[0]))
    for when, pk, code in sorted(plans):
        _one(rng, Employee.objects.get(pk=pk), rules[code], when)
    return count


def _one(rng: random.Random, employee: Employee, rule: Rule, when: datetime.datetime) -> None:
    text = DESCRIPTIONS.get(rule.code, rule.title_zh)
    violation = services.record_violation(
        employee, rule, when, text, acting_user=None, channel="system", group=_group_for(employee, rng)
    )
    roll = rng.random()
    if roll < 0.08 and when > timezone.now() - datetime.timedelta(days=20):
        return  # recent reports still waiting for HR
    if roll < 0.13:
        services.dismiss_violation(violation, "核实后不构成违规", acting_user=None, channel="system")
        return
    services.confirm_violation(violation, acting_user=None, channel="system")
    services.apply_sanctions(violation, acting_user=None, channel="system")
    notified = services.mark_notified(
        violation, acting_user=None, channel="system", at=when + datetime.timedelta(days=1)
    )
    if rng.random() < 0.08:
        filed = notified.notified_at + datetime.timedelta(days=2)
        appeal = services.file_appeal(
            notified, "当时是在转发工作相关内容,请复核。", acting_user=None, channel="system", at=filed
        )
        if filed < timezone.now() - datetime.timedelta(days=10):
            outcome = AppealStatus.OVERTURNED if rng.random() < 0.4 else AppealStatus.UPHELD
            services.decide_appeal(
                appeal,
                outcome,
                "经复核作出裁决",
                acting_user=None,
                channel="system",
                at=filed + datetime.timedelta(days=3),
            )

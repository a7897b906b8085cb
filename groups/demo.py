"""A believable demo company: department tree, ~500 employees, ~40 chat groups and their rosters.

The rosters contain what reconciliation must find: departed employees still in groups, outsiders in
groups that admit only employees, nicknames that break the convention, a group whose owner departed,
a project group past its end date and groups without approval on record.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from .choices import EmployeeStatus, GroupKind, Platform
from .models import ChatGroup, Department, Employee, Membership
from .nicknames import render
from .services import create_department

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏辉建华建国婷雪梅琳晨宇浩然子轩欣怡思远嘉怡梓涵一鸣晓东海燕志强文博佳琪雨桐"  # noqa: E501

# (path, approximate head count, titles)
TREE = [
    ("总经办", 8, ["总经理", "副总经理", "总经理助理", "秘书"]),
    ("人力资源部", 12, ["人力资源经理", "招聘专员", "薪酬专员", "培训专员"]),
    ("财务部", 14, ["财务经理", "会计", "出纳", "税务专员"]),
    ("行政部", 10, ["行政经理", "行政专员", "前台"]),
    ("技术中心", 6, ["技术总监", "架构师"]),
    ("技术中心/前端组", 30, ["前端工程师", "高级前端工程师", "前端组长"]),
    ("技术中心/后端组", 40, ["后端工程师", "高级后端工程师", "后端组长"]),
    ("技术中心/测试组", 20, ["测试工程师", "测试组长"]),
    ("销售中心", 6, ["销售总监", "销售助理"]),
    ("销售中心/华东区", 60, ["销售经理", "销售代表", "大客户经理"]),
    ("销售中心/华南区", 50, ["销售经理", "销售代表", "大客户经理"]),
    ("销售中心/华北区", 45, ["销售经理", "销售代表"]),
    ("市场部", 25, ["市场经理", "市场专员", "品牌策划", "新媒体运营"]),
    ("客服部", 45, ["客服主管", "客服专员"]),
    ("上海分公司", 6, ["分公司总经理", "综合主管"]),
    ("上海分公司/运营部", 40, ["运营经理", "运营专员"]),
    ("上海分公司/仓储部", 35, ["仓储主管", "仓管员", "配送员"]),
    ("深圳分公司", 5, ["分公司总经理"]),
    ("深圳分公司/研发部", 45, ["研发工程师", "研发经理"]),
]


@dataclass
class DemoOrg:
    root: Department
    departments: dict[str, Department] = field(default_factory=dict)
    employees: list[Employee] = field(default_factory=list)
    groups: list[ChatGroup] = field(default_factory=list)
    heads: dict[str, Employee] = field(default_factory=dict)


def _names(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 1, 2))))
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def seed_organisation(company_name: str, *, rng: random.Random, today: date | None = None) -> DemoOrg:
    """Create the department tree and employees. Returns handles for the next steps."""
    today = today or timezone.localdate()
    org = DemoOrg(root=create_department(company_name))
    for path, _, _ in TREE:
        parent_path, _, leaf = path.rpartition("/")
        parent = org.departments[parent_path] if parent_path else org.root
        org.departments[path] = create_department(leaf, parent=parent)
        org.root.refresh_from_db()

    total = sum(count for _, count, _ in TREE)
    names = iter(_names(rng, total))
    number = 1000
    rows: list[Employee] = []
    for path, count, titles in TREE:
        for i in range(count):
            number += 1
            hire = today - timedelta(days=rng.randint(60, 3650))
            departed = i > 0 and rng.random() < 0.08
            rows.append(
                Employee(
                    employee_no=f"QG{number:05d}",
                    name=next(names),
                    department=org.departments[path],
                    title=titles[0] if i == 0 else rng.choice(titles[1:] or titles),
                    status=EmployeeStatus.DEPARTED if departed else EmployeeStatus.ACTIVE,
                    hire_date=hire,
                    departure_date=today - timedelta(days=rng.randint(1, 50)) if departed else None,
                    wechat_id=f"wx_{number}",
                    wecom_id=f"qg{number}",
                    email=f"qg{number}@example.com",
                )
            )
    org.employees = Employee.objects.bulk_create(rows)
    for path, dept in org.departments.items():
        head = next(e for e in org.employees if e.department_id == dept.pk)
        dept.head = head
        dept.save(update_fields=["head"])
        org.heads[path] = head
    return org


def _group(org: DemoOrg, name: str, dept_path: str, kind: str, platform: str, **extra) -> ChatGroup:
    dept = org.departments.get(dept_path, org.root)
    owner = org.heads.get(dept_path) or org.employees[0]
    group = ChatGroup.objects.create(
        name=name,
        kind=kind,
        platform=platform,
        department=dept,
        owner=owner,
        purpose=extra.pop("purpose", ""),
        approved_by=org.employees[0],
        approved_at=timezone.now() - timedelta(days=200),
        **extra,
    )
    return group


def seed_groups(org: DemoOrg, *, rng: random.Random, today: date | None = None) -> None:
    """About 40 groups of every platform and kind, with rosters that contain real problems."""
    today = today or timezone.localdate()
    specs = [(f"{path.split('/')[-1]}工作群", path, GroupKind.DEPARTMENT, Platform.WECOM) for path, *_ in TREE]
    specs += [
        ("公司全员群", "", GroupKind.COMPANY, Platform.WECOM),
        ("管理层沟通群", "总经办", GroupKind.COMPANY, Platform.WECHAT),
        ("公司通知群", "行政部", GroupKind.COMPANY, Platform.DINGTALK),
        ("技术交流群", "技术中心", GroupKind.COMPANY, Platform.QQ),
        ("华东区销售群(微信)", "销售中心/华东区", GroupKind.DEPARTMENT, Platform.WECHAT),
        ("华南区销售群(微信)", "销售中心/华南区", GroupKind.DEPARTMENT, Platform.WECHAT),
        ("周例会群", "总经办", GroupKind.MEETING, Platform.WECOM),
        ("季度经营分析会", "财务部", GroupKind.MEETING, Platform.WECHAT),
        ("新官网改版项目群", "技术中心/前端组", GroupKind.PROJECT, Platform.WECOM),
        ("ERP升级项目群", "技术中心/后端组", GroupKind.PROJECT, Platform.WECOM),
        ("双十一备战项目群", "市场部", GroupKind.PROJECT, Platform.WECHAT),
        ("仓库搬迁项目群", "上海分公司/仓储部", GroupKind.PROJECT, Platform.DINGTALK),
        ("华东大客户服务群", "销售中心/华东区", GroupKind.CUSTOMER, Platform.WECHAT),
        ("华南经销商服务群", "销售中心/华南区", GroupKind.CUSTOMER, Platform.WECHAT),
        ("VIP客户服务群", "客服部", GroupKind.CUSTOMER, Platform.WECOM),
        ("售后技术支持群", "客服部", GroupKind.CUSTOMER, Platform.QQ),
        ("深圳研发协作群", "深圳分公司/研发部", GroupKind.PROJECT, Platform.DINGTALK),
        ("上海分公司全员群", "上海分公司", GroupKind.COMPANY, Platform.WECHAT),
        ("校招面试协调群", "人力资源部", GroupKind.MEETING, Platform.WECOM),
        ("年会筹备群", "行政部", GroupKind.PROJECT, Platform.WECHAT),
        ("华北区销售群(钉钉)", "销售中心/华北区", GroupKind.DEPARTMENT, Platform.DINGTALK),
    ]
    for name, path, kind, platform in specs:
        extra = {}
        if kind == GroupKind.PROJECT:
            extra["end_date"] = today + timedelta(days=rng.randint(-40, 120))
        if kind == GroupKind.CUSTOMER:
            extra["admits_outsiders"] = True
        if platform == Platform.QQ:
            extra["nickname_convention"] = "{name}"
        org.groups.append(_group(org, name, path, kind, platform, **extra))
    # One project group ran past its end date and was never dissolved.
    overdue = next(g for g in org.groups if g.name == "双十一备战项目群")
    ChatGroup.objects.filter(pk=overdue.pk).update(end_date=today - timedelta(days=20))
    # Two groups set up without approval on record (建群须经领导批准并报办公室备案).
    ChatGroup.objects.filter(pk__in=[org.groups[-1].pk, org.groups[-4].pk]).update(approved_at=None, approved_by=None)
    _seed_memberships(org, rng=rng, today=today)


def _nickname(group: ChatGroup, emp: Employee, dept_names: dict[int, str]) -> str:
    return render(
        group.nickname_convention,
        name=emp.name,
        department=dept_names[emp.department_id],
        title=emp.title,
        employee_no=emp.employee_no,
    )


def _seed_memberships(org: DemoOrg, *, rng: random.Random, today: date) -> None:
    dept_names = {d.pk: d.name for d in Department.objects.all()}
    members: list[Membership] = []
    joined = timezone.make_aware(datetime.combine(today - timedelta(days=400), time(9, 0)))
    for group in org.groups:
        dept = group.department
        pool = [e for e in org.employees if e.department.path.startswith(dept.path)]
        if group.kind in (GroupKind.PROJECT, GroupKind.MEETING, GroupKind.CUSTOMER):
            pool = rng.sample(pool, min(len(pool), rng.randint(8, 25)))
        for emp in pool:
            if emp.status == EmployeeStatus.DEPARTED and rng.random() < 0.6:
                continue  # most departed staff were removed; the rest are findings to make
            nickname = _nickname(group, emp, dept_names)
            roll = rng.random()
            if roll < 0.05:
                nickname = emp.name[-1] + rng.choice(["哥", "姐", "总", "小助手"])  # breaks the convention
            elif roll < 0.08:
                nickname = rng.choice(["🌸", "A", "Lucky", "奋斗者"]) + emp.name
            members.append(_member(group, nickname, emp.platform_id(group.platform), emp, joined, rng))
        outsiders = rng.randint(3, 8) if group.admits_outsiders else (1 if rng.random() < 0.3 else 0)
        for n in range(outsiders):
            label = rng.choice(["客户", "经销商", "供应商", "朋友"])
            members.append(
                _member(group, f"{label}-{rng.choice(SURNAMES)}先生{n}", f"ext_{group.pk}_{n}", None, joined, rng)
            )
    Membership.objects.bulk_create(members)
    _owner_departed(org)


def _member(group, nickname, platform_id, emp, joined, rng) -> Membership:
    m = Membership(
        group=group,
        employee=emp,
        nickname=nickname,
        platform_id=platform_id or "",
        joined_at=joined + timedelta(days=rng.randint(0, 300)),
    )
    m.member_key = Membership.key_for(m.platform_id, m.nickname)
    return m


def _owner_departed(org: DemoOrg) -> None:
    """One group's owner has left the company and still owns it (离职继承 needed)."""
    group = next(g for g in org.groups if g.kind == GroupKind.PROJECT)
    owner = group.owner
    Employee.objects.filter(pk=owner.pk).update(
        status=EmployeeStatus.DEPARTED, departure_date=timezone.localdate() - timedelta(days=10)
    )

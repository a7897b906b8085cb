"""A small company with work for group admins (shared by the group-work and work-queue tests).

Groups: 销售部工作群 (admin 孙七 = ``group_admin``) with a departed member 赵六, an outsider 路人甲 and
张三 under a bad nickname; 销售项目群 owned by the departed 赵六, administered by 孙七 (the suggested
successor); 技术部工作群 administered by 周八 (``other_admin``) with an outsider 路人乙.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from groups.choices import FindingKind
from groups.models import ChatGroup, Employee, Membership, RosterFinding
from groups.reconcile import reconcile_all
from groups.roles import sync_derived_roles

K = FindingKind


def build_work(org, django_user_model) -> dict:
    sales, tech = org["sales_group"], org["tech_group"]
    project = ChatGroup.objects.create(
        name="销售项目群", platform="wecom", kind="project", department=org["sales"], owner=org["east_departed"]
    )
    project.admins.add(org["tech_dev"])
    zhou = Employee.objects.create(employee_no="E0202", name="周八", department=org["tech"], title="工程师")
    tech.admins.add(zhou)
    other_admin = django_user_model.objects.create_user(username="other_admin", password="pw-Qungui-2026!")
    zhou.user = other_admin
    zhou.save(update_fields=["user"])
    ChatGroup.objects.update(approved_at=timezone.now())
    Membership.objects.create(group=sales, nickname="华东区-赵六", employee=org["east_departed"])
    Membership.objects.create(group=sales, nickname="路人甲", platform_id="wx_a")
    Membership.objects.create(group=sales, nickname="张三", employee=org["east_rep"], platform_id="wx_zhangsan")
    Membership.objects.create(group=project, nickname="技术部-孙七", employee=org["tech_dev"])
    Membership.objects.create(group=tech, nickname="路人乙", platform_id="wx_b")
    reconcile_all(now=timezone.now() - timedelta(hours=30))
    sync_derived_roles(acting_user=None)
    return {
        "project": project,
        "other_admin": other_admin,
        "zhou": zhou,
        "departed": RosterFinding.objects.get(kind=K.DEPARTED_MEMBER, group=sales),
        "outsider": RosterFinding.objects.get(kind=K.OUTSIDER, group=sales),
        "nickname": RosterFinding.objects.get(kind=K.BAD_NICKNAME, group=sales),
        "owner": RosterFinding.objects.get(kind=K.OWNER_DEPARTED, group=project),
        "tech_outsider": RosterFinding.objects.get(kind=K.OUTSIDER, group=tech),
    }

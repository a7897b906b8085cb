"""Build the demo company and its logins: ``python manage.py seed_demo [--reset]``."""

from __future__ import annotations

import random

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import BaseCommand, call_command
from django.db import transaction
from django.utils import timezone

from groups.demo import seed_groups, seed_organisation
from groups.models import ChatGroup, Department, Employee, RosterFinding
from groups.reconcile import reconcile_all
from portal.months import previous_month
from violations.deductions import close_month, compute_month
from violations.demo import seed_violations
from violations.models import Violation

DEMO_PASSWORD = "Qungui@2026"  # noqa: S105  demo data only, printed on purpose


class Command(BaseCommand):
    help = "创建演示公司(部门、员工、工作群、群成员)和演示账号。"

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="清空数据库后重新创建演示数据")
        parser.add_argument("--seed", type=int, default=2026, help="随机种子(默认 2026)")

    def handle(self, *args, reset: bool, seed: int, **options):
        if Department.objects.exists():
            if not reset:
                self.stdout.write("演示数据已存在(使用 --reset 重新创建)。")
                self._print_logins()
                return
            # flush empties every table and re-emits post_migrate (roles are recreated there).
            call_command("flush", interactive=False, verbosity=0)
        rng = random.Random(seed)
        with transaction.atomic():
            org = seed_organisation(settings.QUNGUI_COMPANY_NAME, rng=rng)
            seed_groups(org, rng=rng)
            self._create_logins(org)
            seed_violations(rng)
        # What the daily job would find in these rosters (departed staff, outsiders, nicknames, …).
        reconcile_all()
        # Last month computed and closed by HR, this month computed so far.
        last = previous_month()
        close_month(last, acting_user=None)
        compute_month(timezone.localdate().replace(day=1))
        self.stdout.write(
            self.style.SUCCESS(
                f"演示公司已创建: {Department.objects.count()} 个部门, {Employee.objects.count()} 名员工, "
                f"{ChatGroup.objects.count()} 个工作群, {Violation.objects.count()} 条违规记录, "
                f"{RosterFinding.objects.filter(status='open').count()} 条待处理的花名册核查结果。"
            )
        )
        self._print_logins()

    def _create_logins(self, org) -> None:
        user_model = get_user_model()
        hr_role = Group.objects.get(name=settings.ROLE_HR_ADMIN)
        auditor_role = Group.objects.get(name=settings.ROLE_AUDITOR)

        def login(username, *, employee=None, role=None, staff=False, superuser=False):
            user = user_model.objects.create_user(
                username=username,
                password=DEMO_PASSWORD,
                is_staff=staff or superuser,
                is_superuser=superuser,
                first_name=employee.name if employee else "",
            )
            if role:
                user.groups.add(role)
            if employee is not None:
                Employee.objects.filter(pk=employee.pk).update(user=user)
            return user

        login("admin", superuser=True)
        login("hr", employee=org.heads["人力资源部"], role=hr_role, staff=True)
        login("auditor", role=auditor_role, staff=True)
        login("head", employee=org.heads["销售中心"])
        service = next(g for g in org.groups if g.name == "VIP客户服务群")
        helper = next(
            e
            for e in org.employees
            if e.department_id == service.department_id and e.is_active and e.pk != service.owner_id
        )
        service.admins.add(helper)
        next(g for g in org.groups if g.name == "售后技术支持群").admins.add(helper)
        login("groupadmin", employee=helper)
        rep = next(
            e
            for e in org.employees
            if e.department.name == "华东区" and e.is_active and e.pk != org.heads["销售中心/华东区"].pk
        )
        login("employee", employee=rep)

    def _print_logins(self) -> None:
        rows = [
            ("admin", "超级管理员 superuser"),
            ("hr", "人力资源部 HR admin"),
            ("head", "销售中心负责人 department head (销售中心 + 华东/华南/华北区)"),
            ("groupadmin", "客服部群管理员 group admin (VIP客户服务群, 售后技术支持群)"),
            ("auditor", "审计 auditor (read-only)"),
            ("employee", "华东区员工 employee"),
        ]
        self.stdout.write(f"\n演示账号 Demo logins (password / 密码: {DEMO_PASSWORD})")
        for username, label in rows:
            self.stdout.write(f"  {username:<11} {label}")

"""python manage.py import_roster employees FILE [--create-departments] | group FILE [--group NAME] [--dry-run]"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from groups.choices import ImportKind, ImportStatus
from groups.importing.errors import ImportValidationError
from groups.importing.readers import count_rows
from groups.models import ChatGroup
from groups.services import FAILED_MESSAGE, create_import_job, import_employees, import_group_roster

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "导入员工花名册或群成员名单(CSV/XLSX,UTF-8/GBK)。Import an employee roster or a group roster."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["employees", "group"])
        parser.add_argument("file")
        parser.add_argument("--group", help="目标群名称(文件没有“群名称”列时)")
        parser.add_argument("--dry-run", action="store_true", help="只校验并显示预览,不写入")
        parser.add_argument(
            "--create-departments",
            action="store_true",
            help="新建文件中不存在的部门(完整路径,上级已存在);不加此项时这些行是错误",
        )

    def handle(self, *args, kind: str, file: str, group: str | None, dry_run: bool, **options):
        self.create_departments = options.get("create_departments", False)
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("找不到文件: %(f)s") % {"f": file})
        target = self._group(group) if group else None
        job = create_import_job(
            kind=ImportKind.EMPLOYEES if kind == "employees" else ImportKind.GROUP,
            acting_user=None,
            original_name=path.name,
            group=target,
        )
        if self.create_departments:
            job.create_departments = True
            job.save(update_fields=["create_departments"])
        bar = tqdm(total=count_rows(path), unit="行", disable=options["verbosity"] == 0)
        try:
            preview = self._run(job, path, target, dry_run, lambda n: bar.update(n - bar.n))
        except ImportValidationError as exc:
            job.status, job.errors = ImportStatus.INVALID, exc.messages
            job.save(update_fields=["status", "errors"])
            raise CommandError(_("文件有错误,未导入任何数据:") + "\n" + "\n".join(exc.messages)) from exc
        except Exception as exc:  # a database refusal the validation missed: a message, not a traceback
            logger.exception("import_roster %s failed", path)
            job.status, job.errors = ImportStatus.FAILED, [str(FAILED_MESSAGE)]
            job.save(update_fields=["status", "errors"])
            raise CommandError(str(FAILED_MESSAGE)) from exc
        finally:
            bar.close()
        job.status = ImportStatus.PREVIEWED if dry_run else ImportStatus.DONE
        job.summary, job.encoding = preview["summary"], preview.get("encoding", "")
        job.save(update_fields=["status", "summary", "encoding"])
        self._report(preview, dry_run)

    def _run(self, job, path, target, dry_run, progress):
        if job.kind == ImportKind.EMPLOYEES:
            return import_employees(
                path,
                acting_user=None,
                job=job,
                dry_run=dry_run,
                progress=progress,
                create_departments=self.create_departments,
            )
        return import_group_roster(path, acting_user=None, job=job, group=target, dry_run=dry_run, progress=progress)

    def _group(self, name: str) -> ChatGroup:
        found = list(ChatGroup.objects.active().filter(name=name)[:2])
        if len(found) != 1:
            raise CommandError(_("找不到唯一的正常状态群: %(g)s") % {"g": name})
        return found[0]

    def _report(self, preview: dict, dry_run: bool) -> None:
        summary = preview["summary"]
        if dry_run:
            self.stdout.write(_("预览(未写入):"))
            for key in ("creates", "updates", "departures", "new_departments", "warnings"):
                for item in preview.get(key, []):
                    self.stdout.write(f"  {key}: {json.dumps(item, ensure_ascii=False)}")
        if summary.get("no_change"):
            self.stdout.write(_("无变化:文件与数据库一致。"))
        self.stdout.write(json.dumps(summary, ensure_ascii=False))

"""python manage.py import_chat FILE --group <id or name> [--platform wecom|wechat|qq] [--dry-run]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from groups.chat.store import import_chat_file
from groups.choices import ImportStatus, Platform
from groups.models import ChatGroup
from portal.audit import audit_context
from portal.choices import Channel


class Command(BaseCommand):
    help = "导入群聊天记录(企业微信会话存档 JSONL、留痕 CSV、QQ 消息管理器 TXT)。Import a chat export."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--group", required=True, help="群的 ID 或名称")
        parser.add_argument(
            "--platform", choices=[Platform.WECOM, Platform.WECHAT, Platform.QQ], help="文件格式(默认自动识别)"
        )
        parser.add_argument("--dry-run", action="store_true", help="只校验并显示预览,不写入")

    def handle(self, *args, file: str, group: str, platform: str | None, dry_run: bool, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("找不到文件: %(f)s") % {"f": file})
        target = self._group(group)
        with audit_context(None, Channel.SYSTEM):
            job = import_chat_file(path, group=target, acting_user=None, platform=platform or "", dry_run=dry_run)
        if job.status == ImportStatus.INVALID:
            raise CommandError(_("文件有错误,未导入任何消息:") + "\n" + "\n".join(job.errors))
        preview = job.preview
        self.stdout.write(
            _("群: %(g)s · 格式: %(p)s · 消息 %(n)s 条 · %(a)s — %(b)s")
            % {
                "g": target,
                "p": job.get_platform_display(),
                "n": job.message_count,
                "a": job.first_sent_at,
                "b": job.last_sent_at,
            }
        )
        self.stdout.write(
            _("发送人: 已匹配 %(m)s 个,未匹配 %(u)s 个") % {"m": job.matched_senders, "u": job.unmatched_senders}
        )
        for sender in preview.get("senders", []):
            if not sender["matched"]:
                self.stdout.write("  " + _("未匹配: %(id)s %(name)s") % sender)
        if dry_run:
            self.stdout.write(_("仅预览,未写入。"))
        else:
            self.stdout.write(
                _("已导入 %(n)s 条新消息,%(d)s 条已存在。")
                % {"n": job.created_count, "d": preview.get("duplicates", 0)}
            )

    def _group(self, value: str) -> ChatGroup:
        groups = ChatGroup.objects.filter(pk=int(value)) if value.isdigit() else ChatGroup.objects.none()
        if not groups:
            groups = ChatGroup.objects.filter(name=value)
        if len(groups) > 1:
            groups = [g for g in groups if g.status == "active"] or list(groups)
        if len(groups) != 1:
            raise CommandError(_("找不到群(或有多个同名群,请用 ID): %(g)s") % {"g": value})
        return groups[0]

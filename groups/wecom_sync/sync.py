"""One WeCom sync run, phase by phase, resumable at any point.

Phases (``WeComSyncRun.phase``):

1. ``org`` — department/list + user/list → the directory against the roster (``org.py``).
2. ``list`` — externalcontact/groupchat/list, page by page (``cursor``/``limit``). Each page's
   chats are upserted together with the next cursor, in one transaction: the checkpoint.
3. ``fetch`` — groupchat/get (need_name=1) for every chat listed in this run and not yet done in
   it, in batches; each batch's snapshots and done marks (``WeComChat.attempted_run``) commit
   together. A chat whose ``member_version`` is unchanged is marked done without rewriting its
   roster. A chat whose fetch fails (errcode, unreadable answer) is marked done with its error and
   **keeps its last snapshot**: it is left out of the snapshot, so nobody in it is read as gone.
4. ``rooms`` — the chat archive's new lines are scanned for rooms; each internal room (not a
   customer group) is fetched with msgaudit/groupchat/get and snapshotted the same way.
5. ``archive`` — the new lines go through the chat import; the stored ``seq`` moves after.

Rate limits (errcode 45009/45033/-1) are waited out with exponential back-off; past the budget
the run stops as 已中断 with its checkpoint, and the task retries later (the next run resumes it:
there is only ever one unfinished run). A run killed anywhere resumes without losing or
duplicating a group: whatever was not committed is redone, and redoing a snapshot is idempotent.
At the end a reconciliation is queued: departed members and outsiders found in the synced
rosters become roster findings the usual way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..choices import ImportKind, ImportStatus, SyncPhase, SyncStatus, SyncTrigger, WeComChatKind
from ..importing.errors import ImportValidationError
from ..models import ChatGroup, ImportJob, WeComArchiveState, WeComChat, WeComSyncRun
from . import archive, org
from .client import ApiError, RateLimited, SyncClient, TransportError
from .mapping import MappingError, parse_group_chat, parse_list_page, parse_room
from .snapshot import Fetched, Snapshots, groups_by_chat_id, validate

logger = logging.getLogger(__name__)

PAGE_LIMIT = 1000  # groupchat/list's largest page (1–1000)
BATCH = 100  # chats per snapshot transaction
BACKOFF = (1, 2, 4, 8, 16, 32, 60)  # seconds between tries of a rate-limited call; then 已中断
MAX_ERRORS = 200
PHASES = [SyncPhase.ORG, SyncPhase.LIST, SyncPhase.FETCH, SyncPhase.ROOMS, SyncPhase.ARCHIVE, SyncPhase.DONE]


class Interrupted(Exception):
    """The run stopped at a checkpoint (rate limit past the back-off, network down, time limit)."""


def start_sync(*, acting_user=None, trigger: str = SyncTrigger.SCHEDULE) -> WeComSyncRun:
    """The unfinished run (to resume) or a new one, with its import job (导入记录)."""
    run = WeComSyncRun.objects.unfinished().first()
    if run is not None:
        return run
    user = acting_user if getattr(acting_user, "pk", None) else None
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                kind=ImportKind.GROUP,
                status=ImportStatus.RUNNING,
                original_name="企业微信同步",
                created_by=user,
                started_at=timezone.now(),
            )
            run = WeComSyncRun.objects.create(trigger=trigger, created_by=user, import_job=job)
            ImportJob.objects.filter(pk=job.pk).update(original_name=f"企业微信同步 #{run.pk}")
    except IntegrityError:  # another caller started one just now (one unfinished run: constraint)
        return WeComSyncRun.objects.unfinished().get()
    return run


class Runner:
    def __init__(self, run: WeComSyncRun, client: SyncClient, *, sleep: Callable[[float], None], archive_dir):
        self.run, self.client, self.sleep = run, client, sleep
        self.archive_dir = Path(archive_dir) if archive_dir else None
        self.calls_at_start = client.calls
        self.snapshots: Snapshots | None = None

    # --- bookkeeping -------------------------------------------------------------------------

    def bump(self, **counts: Any) -> None:
        for key, n in counts.items():
            if isinstance(n, int):
                self.run.counts[key] = self.run.counts.get(key, 0) + n
            else:  # a nested summary (the roster import's): the latest one
                self.run.counts[key] = n

    def error(self, message: str) -> None:
        self.bump(errors=1)
        if len(self.run.errors) < MAX_ERRORS:
            self.run.errors.append(message[:500])

    def save(self, *fields: str) -> None:
        calls = self.client.calls - self.calls_at_start
        self.calls_at_start = self.client.calls
        self.bump(calls=calls)
        self.run.heartbeat_at = timezone.now()
        self.run.save(update_fields=["counts", "errors", "heartbeat_at", *fields])

    def call(self, method: Callable[..., dict], *args: Any, **kwargs: Any) -> dict:
        """One API call; rate limits and network faults waited out with back-off, then Interrupted."""
        for wait in (*BACKOFF, None):
            try:
                return method(*args, **kwargs)
            except RateLimited as exc:
                self.bump(rate_limited=1)
                reason = str(exc)
            except TransportError as exc:
                self.bump(transport_errors=1)
                reason = str(exc)
            if wait is None:
                raise Interrupted(reason)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def snap(self) -> Snapshots:
        if self.snapshots is None:
            assert self.run.import_job is not None  # start_sync creates it with the run
            self.snapshots = Snapshots(acting_user=self.run.created_by, job=self.run.import_job)
        return self.snapshots

    # --- phases ------------------------------------------------------------------------------

    def org(self) -> None:
        if not getattr(self.client, "has_directory", True):
            return
        try:
            departments, users = org.fetch_directory(self.call, self.client)
            self.bump(
                **org.sync_directory(departments, users, acting_user=self.run.created_by, job=self.run.import_job)
            )
        except (ApiError, MappingError) as exc:  # no directory permission: the groups still sync
            self.error(f"通讯录: {exc}")
        except ImportValidationError as exc:
            self.error("通讯录写入花名册失败: " + "; ".join(exc.messages[:5]))

    def listing(self) -> None:
        while not self.run.listed_complete:
            body = self.call(self.client.groupchat_list, cursor=self.run.list_cursor, limit=PAGE_LIMIT)
            page = parse_list_page(body)
            with transaction.atomic():
                WeComChat.objects.bulk_create(
                    [WeComChat(chat_id=c, list_status=s, listed_run=self.run) for c, s in page.items],
                    batch_size=1000,
                    update_conflicts=True,
                    unique_fields=["chat_id"],
                    update_fields=["list_status", "listed_run"],
                )
                self.run.list_cursor = page.next_cursor
                self.run.listed_complete = not page.next_cursor or not page.items
                self.bump(listed=len(page.items), list_pages=1)
                self.run.total_groups = WeComChat.objects.filter(listed_run=self.run).count()
                self.save("list_cursor", "listed_complete", "total_groups")

    def fetch(self) -> None:
        pending = (
            WeComChat.objects.filter(kind=WeComChatKind.CUSTOMER, listed_run=self.run)
            .exclude(attempted_run=self.run)
            .order_by("pk")
        )
        while batch := list(pending[:BATCH]):
            fetched = []
            for chat in batch:
                try:
                    fetched.append((chat, self._get(chat)))
                except (ApiError, MappingError) as exc:
                    fetched.append((chat, exc))
            self._write(fetched, customer=True)

    def _get(self, chat: WeComChat):
        group_chat = parse_group_chat(self.call(self.client.groupchat_get, chat.chat_id))
        validate(group_chat)
        return group_chat

    def _write(self, fetched: list, *, customer: bool) -> None:
        """Snapshot the fetched chats of one batch and set their done marks, in one transaction."""
        now = timezone.now()
        ok = [(c, g) for c, g in fetched if not isinstance(g, Exception)]
        versions = dict(
            ChatGroup.objects.filter(pk__in=[c.group_id for c, _g in ok if c.group_id]).values_list(
                "pk", "wecom_member_version"
            )
        )

        def unchanged(chat: WeComChat, result) -> bool:  # same member_version as the stored snapshot's
            return bool(
                chat.synced_at and result.member_version and versions.get(chat.group_id) == result.member_version
            )

        changed = [(c, g) for c, g in ok if not unchanged(c, g)]
        with transaction.atomic():
            snap = self.snap()
            known = groups_by_chat_id([c.chat_id for c, _g in ok])
            items = [Fetched(c.chat_id, g) for c, g in changed]
            created = snap.ensure_groups(items, known)
            summary = snap.write(items) if items else {}
            for item in items:  # the version of the snapshot just written: one UPDATE for the batch
                assert item.group is not None  # ensure_groups set it
                item.group.wecom_member_version = item.chat.member_version[:64]
            ChatGroup.objects.bulk_update([i.group for i in items if i.group], ["wecom_member_version"])
            group_of = {i.chat_id: i.group for i in items}
            for chat, result in fetched:
                chat.attempted_run = self.run
                if isinstance(result, Exception):
                    chat.failed_at, chat.last_error = now, str(result)[:500]
                    self.error(f"群 {chat.chat_id}: {result}")
                    continue
                chat.synced_at, chat.last_error = now, ""
                chat.group = group_of.get(chat.chat_id) or known.get(chat.chat_id) or chat.group
            WeComChat.objects.bulk_update(
                [c for c, _r in fetched],
                ["attempted_run", "synced_at", "failed_at", "last_error", "group"],
            )
            self.bump(
                fetched=len(ok),
                unchanged=len(ok) - len(changed),
                written=len(changed),
                failed=len(fetched) - len(ok),
                groups_created=len(created),
                joined=summary.get("joined", 0),
                left=summary.get("left", 0),
                members=sum(len(g.members) for _c, g in ok),
            )
            if customer:
                self.run.done_groups = F("done_groups") + len(fetched)
            self.save("done_groups")
            self.run.refresh_from_db(fields=["done_groups"])

    def rooms(self) -> None:
        """Internal groups the chat archive has seen: register new rooms, then fetch every known one."""
        if self.archive_dir is not None and self.archive_dir.is_dir():
            with archive.workdir() as tmp:
                batch = archive.scan(self.archive_dir, WeComArchiveState.load().seq, Path(tmp))
            customers = set(WeComChat.objects.filter(chat_id__in=list(batch.counts)).values_list("chat_id", flat=True))
            WeComChat.objects.bulk_create(
                [WeComChat(chat_id=r, kind=WeComChatKind.INTERNAL) for r in batch.counts if r not in customers],
                ignore_conflicts=True,
            )
        if not getattr(self.client, "has_archive", True):
            return
        pending = WeComChat.objects.filter(kind=WeComChatKind.INTERNAL).exclude(attempted_run=self.run).order_by("pk")
        while batch_rows := list(pending[:BATCH]):
            fetched = []
            for chat in batch_rows:
                try:
                    room = parse_room(chat.chat_id, self.call(self.client.msgaudit_groupchat_get, chat.chat_id))
                    fetched.append((chat, self._named(room)))
                except (ApiError, MappingError) as exc:
                    fetched.append((chat, exc))
            self._write(fetched, customer=False)
            self.bump(rooms=len(batch_rows))

    def _named(self, room):
        """msgaudit gives ids only: members are shown by their directory name (group nickname unknown)."""
        from dataclasses import replace

        from ..models import WeComUser

        validate(room)
        names = dict(
            WeComUser.objects.filter(userid__in=[m.userid for m in room.members]).values_list("userid", "name")
        )
        members = tuple(
            replace(m, nickname=names.get(m.userid) or m.userid, name=names.get(m.userid, "")) for m in room.members
        )
        return replace(room, members=members)

    def archive(self) -> None:
        if self.archive_dir is None or not self.archive_dir.is_dir():
            return
        state = WeComArchiveState.load()
        with archive.workdir() as tmp:
            batch = archive.scan(self.archive_dir, state.seq, Path(tmp))
            if not batch.lines and batch.last_seq == state.seq:
                return
            groups = groups_by_chat_id(list(batch.files))
            counts, errors = archive.import_batch(batch, groups, acting_user=self.run.created_by)
        self.bump(**counts)
        for message in errors:
            self.error(message)
        if not errors:
            archive.advance(self.archive_dir, batch.last_seq)
            self.bump(archive_seq=batch.last_seq - self.run.counts.get("archive_seq", 0))

    # --- the run -----------------------------------------------------------------------------

    def go(self) -> WeComSyncRun:
        run = self.run
        steps = {
            SyncPhase.ORG: self.org,
            SyncPhase.LIST: self.listing,
            SyncPhase.FETCH: self.fetch,
            SyncPhase.ROOMS: self.rooms,
            SyncPhase.ARCHIVE: self.archive,
        }
        try:
            for phase in PHASES[PHASES.index(SyncPhase(run.phase)) :]:
                run.phase = phase
                self.save("phase")
                if phase in steps:
                    steps[phase]()
        except Interrupted as exc:
            logger.warning("WeCom sync %s interrupted, to be resumed: %s", run.pk, exc)
            self.bump(interruptions=1, interrupted_by=str(exc)[:300])
            run.status = SyncStatus.INTERRUPTED
            self.save("status")
            return run
        except MappingError as exc:  # the group list itself unreadable: nothing more to do this time
            self.error(str(exc))
            return self.finish(SyncStatus.FAILED)
        return self.finish(SyncStatus.PARTIAL if run.counts.get("failed") or run.errors else SyncStatus.DONE)

    def finish(self, status: str) -> WeComSyncRun:
        run = self.run
        run.status, run.finished_at, run.unfinished = status, timezone.now(), None
        self.save("status", "finished_at", "unfinished")
        if run.import_job_id:
            job_status = ImportStatus.FAILED if status == SyncStatus.FAILED else ImportStatus.DONE
            ImportJob.objects.filter(pk=run.import_job_id).update(
                status=job_status,
                finished_at=run.finished_at,
                summary=run.counts,
                errors=run.errors[:50],
                total_rows=run.total_groups,
                processed_rows=run.done_groups,
            )
        from portal.wecom_connection import record_sync_status

        counts = run.counts
        record_sync_status(
            str(SyncStatus(status).label),
            f"#{run.pk}: {counts.get('fetched', 0)} 个群, {counts.get('written', 0)} 个有变化, "
            f"{counts.get('failed', 0)} 个失败" + (f"; {run.errors[0]}" if run.errors else ""),
            at=run.finished_at,
        )
        from ..tasks import enqueue_reconcile

        enqueue_reconcile()  # departed members and outsiders of the synced rosters become findings
        return run


def run_sync(
    run: WeComSyncRun, *, client: SyncClient, sleep: Callable[[float], None] = time.sleep, archive_dir=None
) -> WeComSyncRun:
    """Run (or resume) ``run`` to its end, or to a checkpoint when interrupted. The caller holds the
    sync lock (``tasks.wecom_sync_task``, the command)."""
    run = WeComSyncRun.objects.get(pk=run.pk)
    if run.status not in (SyncStatus.RUNNING, SyncStatus.INTERRUPTED):
        return run
    run.status = SyncStatus.RUNNING
    run.save(update_fields=["status"])
    if archive_dir is None:
        archive_dir = getattr(settings, "WECOM_ARCHIVE_DIR", "") or None
    return Runner(run, client, sleep=sleep, archive_dir=archive_dir).go()

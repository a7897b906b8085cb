"""WeCom group rosters → the roster import's records → the roster import's writer.

A fetched group becomes ``RosterLine`` rows exactly like the lines the roster file reader yields
(``groups.importing.roster``), matched by the same ``Directory`` (the 企业微信账号 first), and is
written by ``services.apply_roster_snapshot``: the same plan (joins, updates, departures), the same
audit entry, the same ``rosters_changed`` signal and ``roster_changed_at`` marks that the
incremental reconciliation reads. A group that could not be fetched is simply not in the snapshot:
its memberships are left as they were (a failed fetch is never read as "everyone left").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from auditlog.models import LogEntry
from django.db.models import Q
from django.utils import timezone

from portal.audit import audit_context, log_summary

from ..choices import GroupKind, GroupStatus, Platform, WeComChatType
from ..importing.directory import Directory
from ..importing.roster import NICK_MAX, RosterFile, RosterLine, match_roster
from ..importing.values import check_text
from ..models import ChatGroup, Department, Employee, ImportJob
from ..roles import schedule_sync
from .mapping import GroupChat, MappingError

FIELDS = frozenset({"nickname", "platform_id", "joined_at", "is_admin", "invited_by"})
NAME_MAX: int = ChatGroup._meta.get_field("name").max_length or 200


@dataclass
class Fetched:
    """One chat fetched in this run, with the group it belongs to (None until ensured)."""

    chat_id: str
    chat: GroupChat
    group: ChatGroup | None = None


def validate(chat: GroupChat) -> None:
    """Refuse a member list the snapshot cannot hold, naming the member and the field; the group then
    fails alone and keeps its last snapshot. An empty list is refused too: a group always has its
    owner, so an empty answer is a fault, not "everyone left"."""
    if not chat.members:
        raise MappingError("member_list: 成员列表为空(群至少有群主),保留上次名单")
    for member in chat.members:
        for column, value in (("group_nickname", member.nickname), ("userid", member.userid)):
            try:
                check_text(value)
            except ValueError as exc:
                raise MappingError(f"成员 {member.userid[:50]}, {column}: {exc}") from None


class Snapshots:
    """Builds and writes snapshots for one run: the employee directory is loaded once."""

    def __init__(self, *, acting_user, job: ImportJob) -> None:
        self.acting_user, self.job = acting_user, job
        self.directory = Directory()
        self.by_wecom = self.directory.by_platform["wecom_id"]
        self._names: set[str] | None = None
        self._root: Department | None = None

    # --- groups ------------------------------------------------------------------------------

    def employee(self, userid: str) -> int | None:
        return self.by_wecom.get(userid) if userid else None

    def _taken_names(self) -> set[str]:
        if self._names is None:
            active = ChatGroup.objects.filter(platform=Platform.WECOM, status=GroupStatus.ACTIVE)
            self._names = set(active.values_list("name", flat=True))
        return self._names

    def _unique_name(self, chat: GroupChat) -> str:
        base = (chat.name or ("企业微信内部群" if chat.internal else "企业微信客户群"))[: NAME_MAX - 12]
        name, taken, n = base, self._taken_names(), 1
        while name in taken:  # customer groups often share a name: the chat id's tail tells them apart
            name = f"{base}({chat.chat_id[-6:]}{'' if n == 1 else f'-{n}'})"
            n += 1
        taken.add(name)
        return name

    def _root_department(self) -> Department:
        if self._root is None:
            self._root = Department.objects.filter(depth=1).order_by("path").first()
            if self._root is None:
                raise MappingError("没有任何部门:请先导入花名册,再同步企业微信群")
        return self._root

    def ensure_groups(self, items: list[Fetched], known: dict[str, ChatGroup]) -> list[ChatGroup]:
        """The portal group of each fetched chat: found by its 群ID, else created (客户群 admit
        outsiders; internal groups do not). Owner and admins follow WeCom. Returns the new groups.

        A handful of statements per batch, not per group: the owners' departments in one query, the
        new groups in one INSERT with their admins in another, and one audit entry naming them (bulk
        writes send no auditlog signals; ``portal.audit.log_summary``). A change of owner or admins of
        a group that exists is rare (a transfer, a new admin) and is saved on its own: audited as an
        edit by hand is."""
        now = timezone.now()
        new = [item for item in items if item.chat_id not in known]
        owners = {self.employee(item.chat.owner) for item in new} - {None}
        departments = dict(Employee.objects.filter(pk__in=owners).values_list("pk", "department_id")) if owners else {}
        created: list[ChatGroup] = []
        for item in new:
            chat = item.chat
            owner_id = self.employee(chat.owner)
            item.group = ChatGroup(
                name=self._unique_name(chat),
                platform=Platform.WECOM,
                kind=GroupKind.DEPARTMENT if chat.internal else GroupKind.CUSTOMER,
                external_id=chat.chat_id,
                department_id=departments.get(owner_id) or self._root_department().pk,
                owner_id=owner_id,
                admits_outsiders=not chat.internal,
                wecom_chat_type=WeComChatType.INTERNAL if chat.internal else WeComChatType.CUSTOMER,
                purpose="企业微信同步创建",
                roster_changed_at=now,  # as ChatGroup.save() marks it: the next reconciliation checks it
            )
            created.append(item.group)
        if created:
            ChatGroup.objects.bulk_create(created)
        for item in items:
            if item.group is None:  # known
                item.group = known[item.chat_id]
                owner_id = self.employee(item.chat.owner)
                if owner_id is not None and item.group.owner_id != owner_id:
                    item.group.owner_id = owner_id
                    with audit_context(self.acting_user):
                        item.group.save(update_fields=["owner", "updated_at"])
        self._ensure_admins(items, {g.pk for g in created})
        if created:
            self._audit_created(created)
            schedule_sync()  # new owners and admins: derived roles (the post_save a bulk insert skips)
        return created

    def _ensure_admins(self, items: list[Fetched], new: set[int]) -> None:
        """``ChatGroup.admins`` as WeCom lists them (an empty admin_list leaves them as they are)."""
        through = ChatGroup.admins.through
        old = [item.group.pk for item in items if item.group is not None and item.group.pk not in new]
        current: dict[int, set[int]] = {}
        for group_id, employee_id in through.objects.filter(chatgroup_id__in=old).values_list(
            "chatgroup_id", "employee_id"
        ):
            current.setdefault(group_id, set()).add(employee_id)
        rows = []
        for item in items:
            group, chat = item.group, item.chat
            assert group is not None
            admins = {pk for pk in map(self.employee, chat.admins) if pk}
            if not (admins or chat.admins) or current.get(group.pk, set()) == admins:
                continue
            if group.pk in new:
                rows += [through(chatgroup_id=group.pk, employee_id=pk) for pk in sorted(admins)]
            else:
                with audit_context(self.acting_user):
                    group.admins.set(admins)
        if rows:
            through.objects.bulk_create(rows, batch_size=1000)

    def _audit_created(self, created: list[ChatGroup]) -> None:
        admins: dict[int, list[int]] = {}
        for group_id, employee_id in ChatGroup.admins.through.objects.filter(
            chatgroup_id__in=[g.pk for g in created]
        ).values_list("chatgroup_id", "employee_id"):
            admins.setdefault(group_id, []).append(employee_id)
        log_summary(
            self.job,
            label=f"{self.job}: 新建企业微信群 {len(created)} 个"[:200],
            changes={"groups_created": [None, ", ".join(g.name for g in created)[:2000]]},
            data={
                "groups_created": [
                    {
                        "id": g.pk,
                        "name": g.name,
                        "external_id": g.external_id,
                        "owner": g.owner_id,
                        "department": g.department_id,
                        "admins": sorted(admins.get(g.pk, [])),
                    }
                    for g in created
                ]
            },
            actor=self.acting_user,
            action=LogEntry.Action.CREATE,
        )

    # --- members -----------------------------------------------------------------------------

    def lines(self, item: Fetched) -> list[RosterLine]:
        assert item.group is not None
        lines: list[RosterLine] = []
        seen: set[str] = set()
        for member in item.chat.members:
            if member.userid in seen:  # a member listed twice: the first line counts
                continue
            seen.add(member.userid)
            lines.append(
                RosterLine(
                    row=len(lines) + 1,
                    group=item.group,
                    nickname=member.nickname[:NICK_MAX],
                    platform_id=member.userid,
                    joined_at=_not_future(member.joined_at),
                    is_admin=member.is_admin,
                    invited_by_id=self.employee(member.invitor),
                    nickname_set=member.nickname_set,
                )
            )
        return lines

    def write(self, items: list[Fetched]) -> dict:
        """One snapshot of the given groups (the caller holds the transaction)."""
        data = RosterFile("wecom-api", FIELDS)
        external: set[tuple[int, str]] = set()
        for item in items:
            data.lines.extend(self.lines(item))
            external.update((item.group.pk, m.userid) for m in item.chat.members if m.external)  # type: ignore[union-attr]
        match_roster(data, self.directory)
        for line in data.lines:
            if (line.group.pk, line.platform_id) in external:
                # A customer (type 2) is never an employee, whatever their name: the outsider rules apply.
                line.employee_id, line.matched_by = None, None
        from ..services import apply_roster_snapshot

        return apply_roster_snapshot(data, acting_user=self.acting_user, job=self.job)["summary"]


def _not_future(when: datetime | None) -> datetime | None:
    now = timezone.now()
    return min(when, now) if when else None


def groups_by_chat_id(chat_ids: list[str]) -> dict[str, ChatGroup]:
    """The active WeCom groups whose 群ID is one of ``chat_ids``."""
    rows = ChatGroup.objects.filter(Q(platform=Platform.WECOM), status=GroupStatus.ACTIVE, external_id__in=chat_ids)
    return {g.external_id: g for g in rows}

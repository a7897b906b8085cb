"""The report's columns and the formatting of a detail row (labels, dates, money, neutralised text)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import connection
from django.utils.translation import gettext as _

from groups.choices import Platform
from portal.exports import neutralize

from ..choices import AppealStatus, SanctionKind, ViolationStatus

CENT = Decimal("0.01")


def columns() -> list[str]:
    return [
        _("日期"),
        _("工号"),
        _("姓名"),
        _("部门"),
        _("工作群"),
        _("平台"),
        _("条款编号"),
        _("条款"),
        _("处分"),
        _("罚款(元)"),
        _("扣绩效分"),
        _("状态"),
        _("申诉结果"),
    ]


SANCTION_ORDER = {kind: index for index, kind in enumerate(SanctionKind.values)}


def _day(value: str) -> datetime.date:
    return datetime.date.fromisoformat(value)


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


class RowFormatter:
    """Turns a raw ``detail_rows`` tuple into display values, every text cell neutralised.

    Labels are resolved once in the active language; sanction-kind combinations are few, so their
    text is cached.
    """

    def __init__(self, *, as_text: bool = False) -> None:
        self.platforms = {value: str(label) for value, label in Platform.choices}
        self.statuses = {value: str(label) for value, label in ViolationStatus.choices}
        self.appeals = {value: str(label) for value, label in AppealStatus.choices}
        self.kind_labels = {value: str(label) for value, label in SanctionKind.choices}
        self._kinds: dict[str | None, str] = {None: "", "": ""}
        # SQLite hands back text dates and float sums through a raw cursor; PostgreSQL typed values.
        self.convert = connection.vendor == "sqlite" and not as_text

    def sanctions(self, raw: str | None) -> str:
        text = self._kinds.get(raw)
        if text is None:
            kinds = sorted(raw.split(","), key=lambda k: SANCTION_ORDER.get(k, 99))
            text = self._kinds[raw] = "、".join(self.kind_labels.get(k, k) for k in kinds)
        return text

    def __call__(self, row: tuple) -> tuple:
        return self.format_batch([row])[0]

    def format_batch(self, batch: list[tuple]) -> list[tuple]:
        # The hot loop of every export (a million rows): names bound locally, one comprehension.
        if self.convert:
            batch = [(_day(r[0]), *r[1:9], _money(r[9]), *r[10:]) for r in batch]
        cell, platform, status, appeal = neutralize, self.platforms.get, self.statuses.get, self.appeals.get
        cached, sanctions = self._kinds, self.sanctions
        return [
            (
                day,
                cell(number),
                cell(name),
                cell(dept),
                cell(grp) if grp else "",
                platform(plat, ""),
                cell(code),
                cell(title),
                cached[kinds] if kinds in cached else sanctions(kinds),
                fine,
                points,
                status(state, state),
                appeal(outcome, ""),
            )
            for day, number, name, dept, grp, plat, code, title, kinds, fine, points, state, outcome in batch
        ]

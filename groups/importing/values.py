"""Cell values: text, dates (as HR files write them), statuses and yes/no flags.

Each parser returns the value or raises ValueError with a reason fit for "第N行, 列: 原因".
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from groups.choices import EmployeeStatus

EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug folded in)
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DATETIME_RE = re.compile(r"^(.+?)[\sT]+(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_SERIAL_RE = re.compile(r"^\d{4,5}(\.\d+)?$")

STATUS_VALUES = {
    "在职": EmployeeStatus.ACTIVE,
    "正式": EmployeeStatus.ACTIVE,
    "试用": EmployeeStatus.ACTIVE,
    "试用期": EmployeeStatus.ACTIVE,
    "active": EmployeeStatus.ACTIVE,
    "离职": EmployeeStatus.DEPARTED,
    "已离职": EmployeeStatus.DEPARTED,
    "departed": EmployeeStatus.DEPARTED,
    "left": EmployeeStatus.DEPARTED,
}
# Dates a roster may hold: HR records start in 1950; hire dates may lie a little ahead (signed offers).
IMPORT_MIN_DATE = dt.date(1950, 1, 1)
IMPORT_FUTURE_YEARS = 5
_CONTROL_CATEGORIES = ("Cc", "Zl", "Zp")
TRUE_VALUES = {"是", "y", "yes", "true", "1", "管理员", "群管理员", "群主", "√", "✓"}
FALSE_VALUES = {"否", "n", "no", "false", "0", "", "成员", "普通成员"}


def text(value: Any) -> str:
    """A cell as text. Numbers from XLSX (工号 12345 → "12345", not "12345.0")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def check_text(value: str) -> str:
    """``value`` unless it holds a newline, tab, NUL or other control character (ValueError)."""
    if not value.isprintable() and any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in value):
        raise ValueError(_("包含换行、制表符或其他控制字符"))
    return value


def latest_import_date() -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year + IMPORT_FUTURE_YEARS, day=28 if today.day == 29 else today.day)


def check_date_range(value: dt.date, *, latest: dt.date | None = None) -> dt.date:
    """``value`` if between IMPORT_MIN_DATE and ``latest`` (default IMPORT_FUTURE_YEARS years from
    today), else ValueError."""
    day = value.date() if isinstance(value, dt.datetime) else value
    latest = latest or latest_import_date()
    if not IMPORT_MIN_DATE <= day <= latest:
        raise ValueError(_("日期 %(v)s 超出合理范围(%(a)s 至 %(b)s)") % {"v": day, "a": IMPORT_MIN_DATE, "b": latest})
    return value


def parse_roster_date(value: Any) -> dt.date | None:
    """parse_date, refusing dates outside the range a roster may hold (year 1, 2173…)."""
    day = parse_date(value)
    return check_date_range(day) if day is not None else None


@lru_cache(maxsize=4096)
def _date_from_text(value: str) -> dt.date:
    match = _DATE_RE.match(value)
    if match:
        year, month, day = (int(g) for g in match.groups())
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise ValueError(_("日期不存在: %(v)s") % {"v": value}) from None
    if _SERIAL_RE.match(value):
        return _from_serial(float(value)).date()
    raise ValueError(_("无法识别的日期 %(v)s(应为 2026-11-03、2026/11/3、2026年11月3日 等)") % {"v": value})


def _from_serial(serial: float) -> dt.datetime:
    if not 1 <= serial < 2958466:  # 1900-01-01 … 9999-12-31
        raise ValueError(_("超出范围的 Excel 日期序号: %(v)s") % {"v": serial})
    return EXCEL_EPOCH + dt.timedelta(days=serial)


def parse_date(value: Any) -> dt.date | None:
    """A date from a cell: ISO and Chinese spellings, Excel serial numbers, XLSX date cells."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_serial(float(value)).date()
    value = text(value)
    return _date_from_text(value) if value else None


def parse_datetime(value: Any) -> dt.datetime | None:
    """An aware datetime (Asia/Shanghai unless the cell says otherwise); a bare date means midnight."""
    if isinstance(value, dt.datetime):
        naive = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        naive = _from_serial(float(value))
    else:
        value = text(value)
        if not value:
            return None
        match = _DATETIME_RE.match(value)
        if match:
            day = _date_from_text(match.group(1).strip())
            hour, minute, second = int(match.group(2)), int(match.group(3)), int(match.group(4) or 0)
            try:
                naive = dt.datetime.combine(day, dt.time(hour, minute, second))
            except ValueError:
                raise ValueError(_("时间不存在: %(v)s") % {"v": value}) from None
        else:
            naive = dt.datetime.combine(parse_date(value), dt.time())
    check_date_range(naive, latest=dt.date.max)  # the future: "晚于当前时间", checked by the caller
    if timezone.is_aware(naive):
        return naive
    return timezone.make_aware(naive.replace(microsecond=0))


def parse_status(value: Any) -> str | None:
    value = text(value)
    if not value:
        return None
    status = STATUS_VALUES.get(value.casefold())
    if status is None:
        raise ValueError(_("无法识别的状态 %(v)s(应为 在职/离职 或 active/departed)") % {"v": value})
    return str(status)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    folded = text(value).casefold()
    if folded in TRUE_VALUES:
        return True
    if folded in FALSE_VALUES:
        return False
    raise ValueError(_("应为 是/否: %(v)s") % {"v": text(value)})

"""Read the State Council's holiday notice (国务院办公厅关于某年部分节假日安排的通知) as HR pastes it.

Pure: text in, dates out; nothing is stored here (``services.enter_holiday_schedule`` stores).

Each line is read in order: dates (``2027年1月1日``, ``1月1日``, ``2027-10-01``, ``2027/10/01``) and
ranges (``1月1日至3日``, ``9月30日至10月6日``, ``2027-10-01至2027-10-07``) are collected until a
keyword says what they are: ``放假`` (also ``放假调休``, ``休息``) makes them days off, ``上班`` working
days (调休上班). A ``共N天`` after a holiday is checked against the days read. Weekday notes in
brackets (``(周五)``) are ignored. Lines without any date (the title, the closing paragraph) are
skipped. Nothing is ever guessed: a date that does not exist, lies outside the year, is not followed
by a keyword, is both a holiday and a working day, or digits that are not a date refuse the whole
text, naming the line.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_DATE = r"(?:\d{4}\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
_END = rf"{_DATE}|\d{{1,2}}\s*日"
_TOKEN = re.compile(
    rf"(?P<start>{_DATE})(?:\s*(?:至|到|~|～|—)\s*(?P<end>{_END}))?"
    r"|(?P<off>放假|休息)|(?P<work>上班)|共\s*(?P<total>\d+)\s*天"
)
_BRACKETS = re.compile(r"[(（][^()（）]*[)）]")
_HARMLESS = re.compile(r"\d{4}\s*年|[一二三四五六七八九十]+、|共\s*\d+\s*天")
_CN = re.compile(r"(?:(?P<y>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日")
_ISO = re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})")
_DAY = re.compile(r"(?P<d>\d{1,2})\s*日")


@dataclasses.dataclass
class ParsedSchedule:
    year: int
    holidays: list[datetime.date]
    workdays: list[datetime.date]
    skipped_lines: list[int]  # lines without any date (title, prose), by number

    def overrides(self) -> dict[datetime.date, bool]:
        """date → is_workday, as stored in ``WorkdayOverride``."""
        return {**dict.fromkeys(self.holidays, False), **dict.fromkeys(self.workdays, True)}


def _line_error(number: int, message: str) -> str:
    return _("第%(n)s行: %(m)s") % {"n": number, "m": message}


def _date(text: str, year: int, number: int, month: int | None = None) -> datetime.date:
    match = _CN.fullmatch(text) or _ISO.fullmatch(text)
    if match:
        y, m, d = match.group("y"), int(match.group("m")), int(match.group("d"))
        y = int(y) if y else year
    else:
        match = _DAY.fullmatch(text)
        if match is None or month is None:
            raise ValidationError(_line_error(number, _("无法识别日期“%(t)s”。") % {"t": text}))
        y, m, d = year, month, int(match.group("d"))
    try:
        day = datetime.date(y, m, d)
    except ValueError:
        raise ValidationError(_line_error(number, _("日期“%(t)s”不存在。") % {"t": text})) from None
    if day.year != year:
        raise ValidationError(_line_error(number, _("日期“%(t)s”不在%(y)s年。") % {"t": text, "y": year}))
    return day


def _expand(start: str, end: str | None, year: int, number: int) -> list[datetime.date]:
    first = _date(start, year, number)
    if not end:
        return [first]
    last = _date(end, year, number, month=first.month) if not _CN.fullmatch(end) else None
    if last is None:  # "1月1日至1月3日" or "2027年…": a full date; "12月31日" without a year is this year
        last = _date(end, first.year, number)
    if last < first:
        raise ValidationError(_line_error(number, _("“%(a)s至%(b)s”结束早于开始。") % {"a": start, "b": end}))
    return [first + datetime.timedelta(days=i) for i in range((last - first).days + 1)]


def _parse_line(line: str, number: int, year: int, holidays: set, workdays: set) -> bool:
    """Read one line into ``holidays``/``workdays``; False when it holds no date at all."""
    text = _BRACKETS.sub("", line)
    pending: list[datetime.date] = []
    last_holiday: list[datetime.date] | None = None
    seen_date = seen_keyword = False
    rest = []
    position = 0
    for match in _TOKEN.finditer(text):
        rest.append(text[position : match.start()])
        position = match.end()
        if match.group("start"):
            seen_date = True
            pending += _expand(match.group("start"), match.group("end"), year, number)
        elif match.group("off") or match.group("work"):
            seen_keyword = True
            if not pending:
                continue  # "…放假调休日期的具体安排通知如下" in the title: no dates, nothing to read
            (holidays if match.group("off") else workdays).update(pending)
            last_holiday = list(pending) if match.group("off") else None
            pending = []
        elif match.group("total") and last_holiday is not None:
            total = int(match.group("total"))
            if total != len(set(last_holiday)):
                raise ValidationError(
                    _line_error(
                        number,
                        _("写明共%(n)s天,但日期共%(m)s天。") % {"n": total, "m": len(set(last_holiday))},
                    )
                )
            last_holiday = None
    rest.append(text[position:])
    leftover = _HARMLESS.sub("", "".join(rest))
    if re.search(r"\d", leftover) and (seen_date or seen_keyword or re.search(r"月|日", leftover)):
        stray = re.search(r"\S*\d\S*", leftover).group(0)
        raise ValidationError(_line_error(number, _("无法识别“%(t)s”。") % {"t": stray[:30]}))
    if pending:
        raise ValidationError(_line_error(number, _("日期后面没有写明“放假”还是“上班”。")))
    return seen_date


def parse_schedule(text: str, year: int) -> ParsedSchedule:
    """Read the pasted notice for ``year``; ValidationError listing every bad line (nothing partial)."""
    holidays: set[datetime.date] = set()
    workdays: set[datetime.date] = set()
    errors: list[str] = []
    skipped: list[int] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            if not _parse_line(line, number, year, holidays, workdays):
                skipped.append(number)
        except ValidationError as error:
            errors += error.messages
    both = sorted(holidays & workdays)
    if both:
        errors.append(_("这些日期既写了放假又写了上班: %(d)s。") % {"d": "、".join(day.isoformat() for day in both)})
    if not errors and not holidays and not workdays:
        errors.append(_("没有读到任何日期。"))
    if errors:
        raise ValidationError(errors)
    return ParsedSchedule(year, sorted(holidays), sorted(workdays), skipped)

"""工号 (employee numbers): one spelling per person, wherever a number is read.

HR files spell the same number in many ways: full-width (ＱＧ０１００１), with a zero-width space
pasted from a chat, with a BOM, or mangled by Excel (00123 → 123, 123000 → 1.23E+05). Every
place that reads a 工号 (roster files, group rosters' 邀请人, the API, the admin form, the model's
save) goes through ``normalize_employee_no``; ``clean_employee_no`` also refuses what cannot be a
工号 with a reason fit for "第N行, 工号: 原因".
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.utils.translation import gettext as _

MAX_LENGTH = 50
# Invisible characters NFKC keeps: format characters (category Cf: zero-width spaces and joiners,
# BOM, bidi marks, soft hyphen) and the Hangul fillers / variation selectors that render as nothing.
_INVISIBLE = re.compile(r"[\u115f\u1160\u3164\uffa0\ufe00-\ufe0f\u180b-\u180f]")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d*)?[eE][+-]?\d+$")


def normalize_employee_no(value: Any) -> str:
    """NFKC (full-width → ASCII), invisible characters removed, surrounding whitespace stripped.

    Leading zeros are kept: 00123 and 123 are different numbers to the database.
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _INVISIBLE.sub("", text).strip()


def digits_key(employee_no: str) -> str | None:
    """For an all-digit 工号, the number without leading zeros (00123 → 123); else None."""
    if employee_no.isascii() and employee_no.isdigit():
        return employee_no.lstrip("0") or "0"
    return None


def clean_employee_no(value: Any) -> str:
    """The normalised 工号, or ValueError with a Chinese reason."""
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(_("是小数 %(v)s,不是工号(Excel 可能把工号当成了数字)") % {"v": value})
    number = normalize_employee_no(value)
    if not number:
        raise ValueError(_("不能为空"))
    if _SCIENTIFIC.match(number):
        raise ValueError(
            _("%(v)s 是科学计数法:Excel 把长数字工号改成了科学计数法,请把工号列设为文本格式后重新导出") % {"v": number}
        )
    if any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in number):
        raise ValueError(_("包含换行、制表符或其他控制字符"))
    if len(number) > MAX_LENGTH:
        raise ValueError(_("超过 %(n)s 个字符") % {"n": MAX_LENGTH})
    return number

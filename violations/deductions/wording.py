"""The one explanation of what happens to a closed month (关账) and where its corrections go.

Shown by the compute form, the close confirmation, the computation's refusal of a closed month and
the deductions export, so HR and payroll read the same sentence everywhere.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def correction_note() -> str:
    """Where a correction of a closed month goes: the next open month's adjustment rows."""
    return _(
        "已关账月份的数据已冻结,不再重新计算;之后对该月的更正(申诉结果、补录或撤销的处分)"
        "会在计算下一个未关账月份时作为调整行记入该月,并在“调整月份”一栏注明所更正的月份。"
    )


def closed_month_message(month) -> str:
    """The refusal for a closed month: ``month`` is a PerformanceMonth, a date or a ``YYYY-MM`` text."""
    if isinstance(month, str):
        label = month
    elif hasattr(month, "is_closed"):  # a PerformanceMonth: its str() is YYYY-MM
        label = str(month)
    else:
        label = f"{month:%Y-%m}"
    return _("%(m)s 已关账。") % {"m": label} + correction_note()

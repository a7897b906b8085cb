"""The rule admin's sanction lists (默认处分, 重复升级处分) as rows of a form instead of JSON.

Each row is one sanction: 处分类型 (a select of SanctionKind), 扣绩效分, 罚款金额(元), 期限(天), and a
删除 box. Blank rows are offered below the existing ones (more appear after saving), so HR adds and
removes rows without JavaScript. The field still stores the JSON list ``validate_sanction_specs``
checks (``[{"kind": "fine", "amount": "100"}, …]``); errors name the row and the column.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..choices import SanctionKind
from ..models import Rule

COLUMNS = {
    "kind": _("处分类型"),
    "points": _("扣绩效分"),
    "amount": _("罚款金额(元)"),
    "days": _("期限(天)"),
}
EXTRA_ROWS = 2
MAX_ROWS = 20


class SanctionRowsWidget(forms.Widget):
    """A table of sanction rows; the submitted value is a list of rows of raw strings."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.row_errors: dict[tuple[int, str], str] = {}

    def value_from_datadict(self, data, files, name):
        try:
            count = min(int(data.get(f"{name}-rows", 0)), MAX_ROWS)
        except (TypeError, ValueError):
            count = 0
        rows = []
        for index in range(count):
            row = {key: (data.get(f"{name}-{index}-{key}") or "").strip() for key in COLUMNS}
            row["delete"] = bool(data.get(f"{name}-{index}-delete"))
            rows.append(row)
        return rows

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-rows" not in data

    def render(self, name, value, attrs=None, renderer=None):
        rows = [_as_row(spec) for spec in (value if isinstance(value, list) else [])]
        trailing_blank = 0
        for row in reversed(rows):
            if any(row.get(key) for key in COLUMNS) or row.get("delete"):
                break
            trailing_blank += 1
        rows += [{}] * max(0, EXTRA_ROWS - trailing_blank)  # re-shown after an error: no growing tail
        body = format_html_join("", "{}", ((self._row(name, index, row),) for index, row in enumerate(rows)))
        head = format_html_join("", "<th>{}</th>", ((label,) for label in [_("序号"), *COLUMNS.values(), _("删除")]))
        return format_html(
            '<table class="sanction-rows" id="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
            '<input type="hidden" name="{}-rows" value="{}">',
            (attrs or {}).get("id", f"id_{name}"),
            head,
            body,
            name,
            len(rows),
        )

    def _row(self, name, index, row):
        prefix = f"{name}-{index}"
        kind = str(row.get("kind", ""))
        choices = [("", "---------"), *SanctionKind.choices]
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((value, " selected" if value == kind else "", label) for value, label in choices),
        )
        cells = [
            format_html('<td class="row-number">{}</td>', index + 1),
            self._cell(
                index,
                "kind",
                format_html(
                    '<select name="{}-kind" aria-label="{}">{}</select>', prefix, _label(index, "kind"), options
                ),
            ),
        ]
        for key, minimum, step, mode in (
            ("points", "0", "1", "numeric"),
            ("amount", "0.01", "0.01", "decimal"),
            ("days", "1", "1", "numeric"),
        ):
            field = format_html(
                '<input type="number" name="{}-{}" value="{}" aria-label="{}" min="{}" step="{}" inputmode="{}">',
                prefix,
                key,
                row.get(key, ""),
                _label(index, key),
                minimum,
                step,
                mode,
            )
            cells.append(self._cell(index, key, field))
        delete = format_html(
            '<input type="checkbox" name="{}-delete" aria-label="{}"{}>',
            prefix,
            _("删除第%(n)s行") % {"n": index + 1},
            " checked" if row.get("delete") else "",
        )
        cells.append(format_html("<td>{}</td>", delete))
        return format_html("<tr>{}</tr>", format_html_join("", "{}", ((cell,) for cell in cells)))

    def _cell(self, index, key, field):
        error = self.row_errors.get((index, key))
        if error:
            return format_html('<td class="errors">{}<ul class="errorlist"><li>{}</li></ul></td>', field, error)
        return format_html("<td>{}</td>", field)


def _label(index: int, key: str) -> str:
    return _("第%(n)s行 %(col)s") % {"n": index + 1, "col": COLUMNS[key]}


def _as_row(spec) -> dict:
    """A stored spec (typed values) or a submitted row (strings) as the strings a row shows."""
    if not isinstance(spec, dict):
        return {}
    row = {key: "" if spec.get(key) is None else str(spec[key]) for key in COLUMNS if key in spec}
    row["delete"] = spec.get("delete") is True
    return row


def _amount_text(amount: Decimal) -> str:
    """The amount as typed ("100", "99.50"), never in exponent form ("1E+2")."""
    return f"{amount:f}"


class SanctionRowsField(forms.Field):
    """Cleans the rows to the stored list; an error says which row and which column."""

    widget = SanctionRowsWidget
    default_error_messages = {"invalid": _("处分列表有误。")}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return value

    def bound_data(self, data, initial):
        return data  # re-show exactly what was typed, with the errors next to it

    def clean(self, value):
        self.widget.row_errors = {}
        if not isinstance(value, list):
            value = []
        specs, errors = [], []
        for index, row in enumerate(value):
            if row.get("delete") or not any(row.get(key) for key in COLUMNS):
                continue
            spec = self._spec(index, row)
            if spec is not None:
                specs.append(spec)
        for (index, key), message in sorted(self.widget.row_errors.items()):
            errors.append(_("第%(n)s行 %(col)s: %(msg)s") % {"n": index + 1, "col": COLUMNS[key], "msg": message})
        if errors:
            raise ValidationError(errors)
        if self.required and not specs:
            raise ValidationError(self.error_messages["required"], code="required")
        return specs

    def _spec(self, index: int, row: dict) -> dict | None:
        def fail(key, message):
            self.widget.row_errors[(index, key)] = message

        kind = row.get("kind", "")
        if kind not in SanctionKind.values:
            fail("kind", _("请选择处分类型。"))
            return None
        spec: dict = {"kind": kind}
        for key, minimum in (("points", 0), ("days", 1)):
            text = row.get(key, "")
            if not text:
                continue
            try:
                number = int(text)
            except ValueError:
                number = None
            if number is None or number < minimum or number > 10000:
                fail(key, _("请填写不小于%(m)s的整数。") % {"m": minimum})
            else:
                spec[key] = number
        text = row.get("amount", "")
        if text:
            try:
                amount = Decimal(text)
            except InvalidOperation:
                amount = None
            if kind != SanctionKind.FINE:
                fail("amount", _("只有罚款填写金额。"))
            elif amount is None or not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:
                fail("amount", _("请填写大于0、最多两位小数的金额。"))
            else:
                spec["amount"] = _amount_text(amount)
        if "days" in spec and kind not in (SanctionKind.REMOVAL, SanctionKind.MUTE):
            fail("days", _("只有清出群和禁言填写期限。"))
        # The stored order of keys is the seed's: kind first, then what the row sets.
        return spec

    def has_changed(self, initial, data):
        try:
            return self.clean(data) != (initial or [])
        except ValidationError:
            return True


SPECS_HELP = _(
    "每行一项处分,第一行是主处分(带本条款的扣绩效分)。扣绩效分留空:主处分按本条款,其余按公司设置。"
    "罚款金额留空时按本条款的“罚款金额(元)”。期限:清出群为禁止再入群的天数(留空为永久),禁言为天数。"
    "勾选“删除”去掉一行;需要更多行时先保存,再打开会多出空行。"
)


class RuleAdminForm(forms.ModelForm):
    default_sanctions = SanctionRowsField(label=_("默认处分"), help_text=SPECS_HELP)
    repeat_sanctions = SanctionRowsField(label=_("重复升级处分"), help_text=SPECS_HELP)

    class Meta:
        model = Rule
        fields = [
            "code",
            "title_zh",
            "title_en",
            "category",
            "description",
            "default_sanctions",
            "performance_points",
            "fine_amount",
            "repeat_threshold",
            "repeat_sanctions",
            "is_active",
        ]

"""The report export form: a month or a date range, a visible department, the format and the CSV encoding."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from groups.models import Department
from portal.choices import ExportEncoding, ExportFormat

from .params import ReportError, ReportParams, parse_month


class DepartmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name_path


class ReportExportForm(forms.Form):
    """Department choices are only those the user may see: a head picks within their own subtree."""

    month = forms.CharField(
        label=_("月份"), required=False, widget=forms.TextInput(attrs={"type": "month", "placeholder": "2026-10"})
    )
    start = forms.DateField(label=_("或 开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("结束日期(含)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    department = DepartmentChoiceField(
        label=_("部门(含下级)"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("全部(我可查看的范围)"),
    )
    file_format = forms.ChoiceField(label=_("格式"), choices=ExportFormat.choices, initial=ExportFormat.XLSX)
    encoding = forms.ChoiceField(
        label=_("CSV 编码"),
        choices=ExportEncoding.choices,
        initial=ExportEncoding.UTF8_BOM,
        help_text=_("GBK 仅用于旧版 Excel;GBK 无法表示的字符(如表情符号、生僻字)将替换为“?”。"),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.visible_to(user).order_by("path")
        if not self.is_bound:
            self.initial["month"] = timezone.localdate().strftime("%Y-%m")

    def clean(self) -> dict:
        data = super().clean()
        month, start, end = data.get("month"), data.get("start"), data.get("end")
        try:
            if month and (start or end):
                raise ReportError("month", _("月份和日期范围只能填写一项。"))
            if month:
                start, end = parse_month(month)
            department = data.get("department")
            data["params"] = ReportParams(start, end, department.pk if department else None)
        except ReportError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)
        return data

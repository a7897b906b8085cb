"""Forms: HR's fast record form (admin), reasons for decisions, and the self-service appeal and report."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from groups.models import ChatGroup, Employee, Membership
from portal.scoping import scope_for

from .choices import AppealStatus, SanctionKind
from .evidence import check_evidence_files
from .models import Rule, Violation
from .services.records import duplicate_summary, likely_duplicates


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by ``check_evidence_files`` in ``clean``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".png,.jpg,.jpeg,.gif,.webp,.pdf"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [super(MultipleFileField, self).clean(item, initial) for item in files]
        check_evidence_files(files)
        return files


def confirm_duplicate_field() -> forms.BooleanField:
    """仍然保存: hidden until a likely duplicate was found, then a checkbox next to the warning."""
    return forms.BooleanField(
        label=_("仍然保存(已核对,不是重复记录)"), required=False, widget=forms.HiddenInput, initial=False
    )


def duplicate_warning(duplicates, user, *, files_given: bool):
    """The warning naming the existing records, each linked to its page when ``user`` may open it."""
    can_open = user is not None and user.has_perm("violations.view_violation")
    rows = format_html_join(
        "",
        '<li><a href="{}" target="_blank" rel="noopener">{}</a></li>' if can_open else "<li>{1}</li>",
        ((reverse("admin:violations_violation_change", args=[v.pk]), duplicate_summary(v)) for v in duplicates),
    )
    note = _("证据文件需要重新选择。") if files_given else ""
    return format_html(
        '<span class="duplicate-warning">{}</span><ul class="duplicates">{}</ul>{} {}',
        _("可能与以下已有记录重复:"),
        rows,
        _("核对后如确认不是重复,请勾选“仍然保存”再提交。"),
        note,
    )


def check_duplicates(form, *, user, employee, rule, group, occurred_at, description, files_given) -> None:
    """Add the duplicate warning to ``form`` unless 仍然保存 is ticked (shared by the admin and report forms)."""
    if form.cleaned_data.get("confirm_duplicate"):
        return
    duplicates = likely_duplicates(employee, rule, group, occurred_at, description or "", user=user)
    if duplicates:
        form.fields["confirm_duplicate"].widget = forms.CheckboxInput()
        form.add_error("confirm_duplicate", duplicate_warning(duplicates, user, files_given=files_given))
        form.duplicates = duplicates


# Texts of the preview panel (static/violations/record.js reads them from the rule select).
PREVIEW_LABELS = {
    "adds": _("升级预览:保存后将追加"),
    "none": _("升级预览:不会触发升级"),
    "choose": _("请选择条款"),
    "unavailable": _("预览暂不可用"),
    "duplicates": _("可能与以下已有记录重复(保存时需勾选“仍然保存”):"),
}


class RecordViolationForm(forms.ModelForm):
    """HR's one-screen record form: the rule pre-selects its default sanctions (static/violations/record.js)."""

    sanction_kinds = forms.MultipleChoiceField(
        label=_("处分"), choices=SanctionKind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    fine_amount = forms.DecimalField(
        label=_("罚款金额(元)"), required=False, min_value=Decimal("0.01"), decimal_places=2
    )
    removal_days = forms.IntegerField(
        label=_("禁止再入群(天)"), required=False, min_value=1, help_text=_("清出群时填写;留空为永久")
    )
    apply_now = forms.BooleanField(label=_("确认并立即处分"), required=False, initial=True)
    evidence = MultipleFileField(label=_("证据(截图、PDF,可多选)"))
    confirm_duplicate = confirm_duplicate_field()
    acting_user = None  # set by ViolationAdmin.get_form: whose visible records the duplicate check names

    class Meta:
        model = Violation
        fields = ["employee", "group", "rule", "occurred_at", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = Rule.objects.filter(is_active=True)
        widget = self.fields["rule"].widget
        attrs = getattr(widget, "widget", widget).attrs  # the admin wraps the select
        attrs["data-preview-url"] = reverse("violations:preview")
        attrs.update({f"data-label-{key}": str(label) for key, label in PREVIEW_LABELS.items()})
        self.fields["occurred_at"].initial = timezone.localtime().replace(second=0, microsecond=0)

    def clean(self):
        data = super().clean()
        kinds = data.get("sanction_kinds") or []
        if data.get("apply_now") and not kinds:
            self.add_error("sanction_kinds", _("立即处分时至少选择一项处分。"))
        if SanctionKind.FINE in kinds and not data.get("fine_amount"):
            rule = data.get("rule")
            if rule is None or not rule.fine_amount:
                self.add_error("fine_amount", _("选择罚款时请填写金额。"))
        check_duplicates(
            self,
            user=self.acting_user,
            employee=data.get("employee"),
            rule=data.get("rule"),
            group=data.get("group"),
            occurred_at=data.get("occurred_at"),
            description=data.get("description"),
            files_given=bool(data.get("evidence")),
        )
        return data

    def sanction_specs(self) -> list[dict]:
        data, specs = self.cleaned_data, []
        for kind in data["sanction_kinds"]:
            spec: dict = {"kind": kind}
            if kind == SanctionKind.FINE:
                spec["amount"] = str(data.get("fine_amount") or data["rule"].fine_amount)
            if kind == SanctionKind.REMOVAL and data.get("removal_days"):
                spec["days"] = data["removal_days"]
            specs.append(spec)
        order = list(SanctionKind.values)  # the main sanction first: it carries the rule's points
        defaults = [s["kind"] for s in data["rule"].default_sanctions]
        return sorted(specs, key=lambda s: (s["kind"] not in defaults, order.index(s["kind"])))


class AddEvidenceForm(forms.ModelForm):
    """The change page of a violation: its fields are read-only; only more evidence can be added."""

    add_evidence = MultipleFileField(label=_("补充证据"))

    class Meta:
        model = Violation
        fields: list[str] = []


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


class DecisionForm(ReasonForm):
    outcome = forms.ChoiceField(
        label=_("裁决"), choices=[(AppealStatus.UPHELD, _("维持原处分")), (AppealStatus.OVERTURNED, _("撤销处分"))]
    )


class AppealForm(forms.Form):
    statement = forms.CharField(label=_("申诉理由"), widget=forms.Textarea(attrs={"rows": 6}), max_length=5000)
    files = MultipleFileField(label=_("附件(截图、PDF,可多选)"))


class ReportForm(forms.Form):
    """举报: the person is named by 工号 or exact name; groups offered are the reporter's own."""

    group = forms.ModelChoiceField(label=_("工作群"), queryset=ChatGroup.objects.none(), required=False)
    person = forms.CharField(label=_("被举报人(工号或姓名)"), max_length=100)
    rule = forms.ModelChoiceField(label=_("违反的条款"), queryset=Rule.objects.filter(is_active=True))
    occurred_at = forms.DateTimeField(label=_("发生时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    description = forms.CharField(label=_("经过"), widget=forms.Textarea(attrs={"rows": 5}), max_length=5000)
    evidence = MultipleFileField(label=_("证据(截图、PDF,可多选)"))
    is_anonymous = forms.BooleanField(
        label=_("匿名举报"),
        required=False,
        help_text=_(
            "匿名时系统不保存您的身份,任何人(包括被举报人)都无法看到:不记录账号、IP 地址和请求编号,"
            "提交时间只记录到小时;图片证据会去除拍摄地点等元数据并重命名,不接受 PDF。"
        ),
    )
    confirm_duplicate = confirm_duplicate_field()

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        scope = scope_for(user)
        if scope.employee_id:
            member_of = Membership.objects.open().filter(employee_id=scope.employee_id).values("group_id")
            query = Q(pk__in=member_of) | Q(pk__in=scope.group_ids)
            self.fields["group"].queryset = ChatGroup.objects.active().filter(query).distinct()

    def clean_person(self) -> Employee:
        value = self.cleaned_data["person"].strip()
        active = Employee.objects.active()
        match = active.filter(employee_no=value).first()
        if match is None:
            by_name = list(active.filter(name=value)[:2])
            if len(by_name) != 1:
                raise ValidationError(
                    _("找不到该员工") if not by_name else _("有多名同名员工,请填写工号"), code="person"
                )
            match = by_name[0]
        return match

    def clean(self):
        data = super().clean()
        check_duplicates(
            self,
            user=self.user,
            employee=data.get("person"),
            rule=data.get("rule"),
            group=data.get("group"),
            occurred_at=data.get("occurred_at"),
            description=data.get("description"),
            files_given=bool(data.get("evidence")),
        )
        return data

"""HR's screens for R01/R03: the directive and notice settings (one row) and the named group leaders.

The phrase lists are edited as a text box, one phrase per line (stored as the JSON list the
detectors read); every change is audited (django-auditlog, admin channel).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import DirectiveSettings, GroupLeader
from .records import AdminChannelMixin

PHRASE_FIELDS = ("directive_phrases", "ack_request_phrases", "ack_phrases")


class PhraseListField(forms.CharField):
    """One phrase per line ↔ a list of phrases (blank lines dropped, each line trimmed)."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 40})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class DirectiveSettingsForm(forms.ModelForm):
    directive_phrases = PhraseListField(
        label=_("指令短语"),
        required=False,
        help_text=_("一行一个。领导的消息含其中任一短语即视为指令(即使没有@任何人)。"),
    )
    ack_request_phrases = PhraseListField(
        label=_("要求回复确认的短语"),
        required=False,
        help_text=_("一行一个。领导或群管理员的消息含其中任一短语即视为须回复确认的通知。"),
    )
    ack_phrases = PhraseListField(
        label=_("确认短语"),
        required=False,
        help_text=_("一行一个。只有一个字或全为英文数字的短语(如 1、OK)须整条回复与之相同(不区分大小写)。"),
    )

    class Meta:
        model = DirectiveSettings
        fields = [
            "work_day_start",
            "work_day_end",
            "owner_is_leader",
            "department_head_is_leader",
            *PHRASE_FIELDS,
            "admins_send_notices",
            "any_reply_acknowledges",
        ]


@admin.register(DirectiveSettings)
class DirectiveSettingsAdmin(AdminChannelMixin, admin.ModelAdmin):
    form = DirectiveSettingsForm
    list_display = ["__str__", "work_day_start", "work_day_end", "owner_is_leader", "department_head_is_leader"]
    fieldsets = [
        (_("工作时间"), {"fields": ["work_day_start", "work_day_end"]}),
        (_("领导"), {"fields": ["owner_is_leader", "department_head_is_leader"]}),
        (_("领导指令(R01)"), {"fields": ["directive_phrases"]}),
        (
            _("通知确认(R03)"),
            {"fields": ["ack_request_phrases", "ack_phrases", "admins_send_notices", "any_reply_acknowledges"]},
        ),
    ]

    def has_add_permission(self, request):
        return False  # one row, seeded by the migration

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(GroupLeader)
class GroupLeaderAdmin(AdminChannelMixin, admin.ModelAdmin):
    list_display = ["employee", "where", "note", "created_at"]
    list_select_related = ["employee", "group"]
    autocomplete_fields = ["group", "employee"]
    search_fields = ["employee__name", "employee__employee_no", "group__name"]
    list_filter = [("group", admin.EmptyFieldListFilter)]

    @admin.display(description=_("群"), ordering="group__name")
    def where(self, obj):
        return obj.group.name if obj.group_id else _("所有群")

"""Admin screen of the keyword lexicon: entries per rule, activate/deactivate, CSV import and export.

The CSV import (django-import-export) is made strict where the library is lax: the file is decoded
as strict UTF-8 (BOM allowed), else GB18030, and must carry the columns 条款编号, 类型, 内容; a row
naming an unknown rule or kind, an entry that cannot match safely, or the same entry twice in one
file refuses the whole file (``rollback_on_validation_errors``), nothing half-written. Rows are saved
one by one (no bulk mode), so each new or changed entry gets its audit-log entry. Only users with
the change permission on 词库条目 (HR) may import; view permission exports.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import widgets
from import_export.admin import ImportExportMixin
from import_export.fields import Field
from import_export.formats.base_formats import CSV

from portal.exports import SafeExportResource

from ..choices import LexiconKind
from ..models import LexiconEntry, Rule
from ..models.lexicon import LEXICON_RULES, canonical_text
from .records import AdminChannelMixin

REQUIRED_COLUMNS = ("条款编号", "类型", "内容")


def decode_upload(data: bytes) -> str:
    """Strict UTF-8 (a BOM stripped), else GB18030 (Excel on Chinese Windows saves CSV so)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ValueError(_("文件编码无法识别,请另存为 UTF-8 或 GBK 编码的 CSV")) from None


class LexiconCSV(CSV):
    """CSV read from bytes with ``decode_upload`` instead of the admin's fixed utf-8-sig."""

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            in_stream = decode_upload(in_stream)
        return super().create_dataset(in_stream, **kwargs)


class RuleCodeWidget(widgets.ForeignKeyWidget):
    """A rule by its code, from one dict loaded per import (no query per row)."""

    def __init__(self) -> None:
        super().__init__(Rule, field="code")
        self._rules: dict[str, Rule] | None = None

    def clean(self, value, row=None, **kwargs):
        if self._rules is None:
            self._rules = {r.code: r for r in Rule.objects.filter(code__in=LEXICON_RULES)}
        code = str(value or "").strip().upper()
        if code not in self._rules:
            raise ValueError(
                _("没有可用词库的条款“%(c)s”(可用:%(all)s)") % {"c": code, "all": "、".join(LEXICON_RULES)}
            )
        return self._rules[code]


class KindWidget(widgets.Widget):
    """词语 / 通配模式 / 链接域名, or word / pattern / domain."""

    def clean(self, value, row=None, **kwargs):
        text = str(value or "").strip()
        for choice in LexiconKind:
            if text in (choice.value, str(choice.label)):
                return choice.value
        if not text:
            return LexiconKind.WORD
        labels = "、".join(str(c.label) for c in LexiconKind)
        raise ValueError(_("未知的类型“%(k)s”(可用:%(all)s)") % {"k": text, "all": labels})

    def render(self, value, obj=None, **kwargs):
        return str(LexiconKind(value).label) if value else ""


class LexiconResource(SafeExportResource):
    rule = Field(attribute="rule", column_name="条款编号", widget=RuleCodeWidget())
    kind = Field(attribute="kind", column_name="类型", widget=KindWidget())
    text = Field(attribute="text", column_name="内容")
    active = Field(attribute="active", column_name="启用", widget=widgets.BooleanWidget())
    note = Field(attribute="note", column_name="备注")

    class Meta:
        model = LexiconEntry
        fields = ("rule", "kind", "text", "active", "note")
        export_order = fields
        import_id_fields = ("rule", "kind", "text")
        skip_unchanged = True
        report_skipped = False
        clean_model_instances = True
        rollback_on_validation_errors = True
        use_bulk = False

    def before_import(self, dataset, **kwargs):
        missing = [c for c in REQUIRED_COLUMNS if c not in (dataset.headers or [])]
        if missing:
            raise ValueError(
                _("缺少列:%(cols)s(需要 条款编号、类型、内容,可选 启用、备注)") % {"cols": "、".join(missing)}
            )
        self._seen: dict[tuple, int] = {}

    def before_import_row(self, row, **kwargs):
        """The entry's match form before the lookup ("加 微 信" finds 加微信); a repeat in the file is an error."""
        number = kwargs.get("row_number")
        kind = KindWidget().clean(row.get("类型"))
        try:
            row["内容"] = canonical_text(kind, str(row.get("内容") or ""))
        except ValidationError as exc:
            raise ValueError("; ".join(exc.messages)) from None
        if row.get("启用") in (None, ""):
            row["启用"] = "1"
        key = (str(row.get("条款编号") or "").strip().upper(), kind, row["内容"])
        if key in self._seen:
            raise ValueError(_("与第%(n)s行重复") % {"n": self._seen[key]})
        self._seen[key] = number

    def after_init_instance(self, instance, new, row, **kwargs):
        if new and kwargs.get("user") is not None:
            instance.created_by = kwargs["user"]


@admin.register(LexiconEntry)
class LexiconEntryAdmin(AdminChannelMixin, ImportExportMixin, admin.ModelAdmin):
    resource_classes = [LexiconResource]
    formats = [LexiconCSV]
    list_display = ["text", "kind", "rule", "active", "note", "updated_at"]
    list_filter = ["kind", "active", "rule"]
    search_fields = ["text", "note", "rule__code"]
    list_select_related = ["rule"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    fields = ["rule", "kind", "text", "active", "note", "created_by", "created_at", "updated_at"]
    actions = ["deactivate", "activate"]

    def import_action(self, request, **kwargs):
        with audit_context_for(request):
            return super().import_action(request, **kwargs)

    def process_import(self, request, **kwargs):
        with audit_context_for(request):
            return super().process_import(request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # an entry is deactivated, so that past suspicions keep their reason

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def _set_active(self, queryset, active: bool) -> None:
        for entry in queryset.filter(active=not active):
            entry.active = active
            entry.save(update_fields=["active", "updated_at"])  # one audit entry per entry

    @admin.action(description=gettext_lazy("停用所选词库条目"), permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_active(queryset, False)

    @admin.action(description=gettext_lazy("启用所选词库条目"), permissions=["change"])
    def activate(self, request, queryset):
        self._set_active(queryset, True)


def audit_context_for(request):
    from portal.audit import audit_context
    from portal.choices import Channel

    return audit_context(request.user, Channel.ADMIN)

"""Organisation endpoints: departments, employees, chat groups, memberships (all scoped)."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Length, Substr
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from portal.api.search import IndexedSearchFilter
from portal.api.viewsets import ScopedModelViewSet, ScopedReadOnlyViewSet
from portal.audit import audit_context, log_access
from portal.choices import Channel
from portal.scoping import scope_for

from .. import reconcile, services
from ..chat import store as chat_store
from ..chat.forms import ChatUploadForm
from ..choices import FindingStatus, ImportStatus
from ..filters import (
    ChatGroupFilterSet,
    DepartmentFilterSet,
    EmployeeFilterSet,
    ImportJobFilterSet,
    MembershipFilterSet,
    RosterFindingFilterSet,
)
from ..forms import RosterUploadForm
from ..models import ChatGroup, ChatImport, ChatMessage, Department, Employee, ImportJob, Membership, RosterFinding
from ..views import PERMISSION as IMPORT_PERMISSION
from .serializers import (
    ChatGroupSerializer,
    ChatImportSerializer,
    ChatMessageDetailSerializer,
    ChatMessageSerializer,
    ChatUploadSerializer,
    DepartmentSerializer,
    EmployeeSerializer,
    ImportConfirmSerializer,
    ImportJobSerializer,
    ImportUploadSerializer,
    MembershipSerializer,
    RosterFindingSerializer,
    WaiveSerializer,
)


class DepartmentViewSet(ScopedModelViewSet):
    """The organisation tree, ordered by tree path. HR adds departments under a parent."""

    queryset = Department.objects.all()
    serializer_class = DepartmentSerializer
    filterset_class = DepartmentFilterSet
    select_related_fields = ("head",)
    search_fields = ["name", "name_path", "code"]
    ordering_fields = ["path", "name", "name_path", "depth", "created_at"]
    ordering = ["path"]
    http_method_names = ["get", "post", "head", "options"]
    create_service = services.create_department

    def refine_queryset(self, queryset: QuerySet) -> QuerySet:
        parent_path = Substr(OuterRef("path"), 1, Length(OuterRef("path")) - Department.steplen)
        parents = Department.objects.filter(path=parent_path).values("pk")[:1]
        return queryset.annotate(parent_pk=Subquery(parents))


class EmployeeViewSet(ScopedModelViewSet):
    """Employees; ``?department=<id>`` means that department and everything below it."""

    queryset = Employee.objects.all()
    serializer_class = EmployeeSerializer
    filterset_class = EmployeeFilterSet
    select_related_fields = ("department",)
    search_fields = ["name", "employee_no"]
    ordering_fields = ["employee_no", "name", "hire_date", "departure_date", "created_at", "updated_at"]
    ordering = ["employee_no"]
    create_service = services.create_employee
    update_service = services.update_employee
    delete_service = services.delete_employee

    def retrieve(self, request, *args, **kwargs):
        employee = self.get_object()
        # PIPL: one employee's record read through the API is recorded like the admin page view.
        log_access(request.user, employee, "view", detail="api")
        return Response(self.get_serializer(employee).data)


class ChatGroupViewSet(ScopedModelViewSet):
    """Work chat groups with their current member count."""

    queryset = ChatGroup.objects.all()
    serializer_class = ChatGroupSerializer
    filterset_class = ChatGroupFilterSet
    select_related_fields = ("department", "owner")
    prefetch_related_fields = ("admins",)
    search_fields = ["name", "external_id", "filing_ref"]
    ordering_fields = ["name", "platform", "kind", "status", "end_date", "created_at", "member_count"]
    ordering = ["name", "id"]
    create_service = services.create_chat_group
    update_service = services.update_chat_group
    delete_service = services.delete_chat_group

    def refine_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.annotate(member_count=Count("memberships", filter=Q(memberships__left_at__isnull=True)))


class MembershipViewSet(ScopedReadOnlyViewSet):
    """Group rosters, history included (``?open=true`` for current members)."""

    queryset = Membership.objects.all()
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilterSet
    select_related_fields = ("group", "employee")
    search_fields = ["nickname", "platform_id", "employee__name", "employee__employee_no"]
    ordering_fields = ["nickname", "joined_at", "left_at", "created_at", "group__name", "id"]
    # By group id, not group name: (group_id, nickname, id) is an index (membership_group_nickname),
    # so a page is an index range read, not a sort of every visible row; ?ordering=group__name still works.
    ordering = ["group_id", "nickname", "id"]


class LastSeenOrdering(OrderingFilter):
    """``?ordering=last_seen_at`` orders by the effective value (``seen_at``), not the stored column."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        return [term.replace("last_seen_at", "seen_at") for term in ordering] if ordering else ordering


class RosterFindingViewSet(ScopedReadOnlyViewSet):
    """What the daily reconciliation found. HR and the group's owner/admins settle open findings."""

    queryset = RosterFinding.objects.all()
    serializer_class = RosterFindingSerializer
    filterset_class = RosterFindingFilterSet
    select_related_fields = ("group", "employee", "membership")
    search_fields = ["detail", "group__name", "employee__name", "membership__nickname"]
    ordering_fields = ["first_seen_at", "last_seen_at", "kind", "status", "id"]
    ordering = ["-first_seen_at", "id"]

    filter_backends = [DjangoFilterBackend, LastSeenOrdering, IndexedSearchFilter]

    def refine_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.with_last_seen()  # ``last_seen_at`` in the API is the effective value

    def get_permissions(self):
        if self.action in ("mark_removed", "waive"):
            return [IsAuthenticated()]  # HR or the group's owner/admins, checked on the finding
        return super().get_permissions()

    def _actionable(self) -> RosterFinding:
        finding = self.get_object()
        scope = scope_for(self.request.user)
        if not (scope.is_hr or finding.group_id in scope.group_ids):
            raise PermissionDenied(_("只有人资或该群的群主/管理员可以处理核查结果。"))
        if finding.status != FindingStatus.OPEN:
            raise ValidationError({"status": [_("该核查结果已处理。")]})
        return finding

    def _answer(self, finding: RosterFinding) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=None, responses=RosterFindingSerializer)
    @action(detail=True, methods=["post"], url_path="mark-removed")
    def mark_removed(self, request, pk=None):
        """The member was removed from the group: close the membership and resolve its findings."""
        finding = self._actionable()
        if finding.membership_id is None:
            raise ValidationError({"kind": [_("此类核查结果不涉及群成员,不能标记为已移出。")]})
        reconcile.mark_removed([finding.pk], acting_user=request.user)
        return self._answer(finding)

    @extend_schema(request=WaiveSerializer, responses=RosterFindingSerializer)
    @action(detail=True, methods=["post"])
    def waive(self, request, pk=None):
        """Waive an open finding with a reason; reruns of the reconciliation keep it waived."""
        given = WaiveSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        finding = self._actionable()
        reconcile.waive_findings([finding.pk], reason=given.validated_data["reason"], acting_user=request.user)
        return self._answer(finding)


def may_import(user, kind: str) -> bool:
    """As on the admin's import pages: HR admins, or users with the change permission for that roster."""
    return scope_for(user).is_hr or user.has_perm(IMPORT_PERMISSION[kind])


class ImportJobViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Roster imports through the same services as the admin: upload → validate → (dry run: stop) → import.

    An invalid file answers 400 with every row/column error under ``fields.file``; nothing is written.
    Large files are validated and imported by a worker: the answer is 202 and GET shows the progress.
    """

    queryset = ImportJob.objects.all()
    serializer_class = ImportJobSerializer
    filterset_class = ImportJobFilterSet
    parser_classes = [MultiPartParser, FormParser]
    ordering_fields = ["created_at", "finished_at", "status", "id"]
    ordering = ["-created_at", "-id"]

    def get_permissions(self):
        if self.action in ("create", "confirm", "cancel"):
            return [IsAuthenticated()]  # per kind of roster, checked below
        return super().get_permissions()

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportJobSerializer, 202: ImportJobSerializer},
    )
    def create(self, request, *args, **kwargs):
        given = ImportUploadSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        data = given.validated_data
        if not may_import(request.user, data["kind"]):
            raise PermissionDenied(_("没有导入此类名单的权限。"))
        upload = _checked_upload(data, request.user)
        job = services.create_import_job(
            kind=data["kind"],
            acting_user=request.user,
            upload=upload,
            original_name=upload.name,
            group=data.get("group"),
            create_departments=data["create_departments"],
        )
        # Parsed in the worker, never in the request; when tasks run in-process it is done by now. With
        # the broker down the validation is recorded and sent once it is back (the answer is 202).
        services.queue_validation(job, acting_user=request.user, defer=True)
        job.refresh_from_db()
        if job.status not in (ImportStatus.PREVIEWED, ImportStatus.INVALID, ImportStatus.FAILED):
            return self._answer(job, status.HTTP_202_ACCEPTED)
        if job.status in (ImportStatus.INVALID, ImportStatus.FAILED):
            raise ValidationError({"file": job.errors})
        if not data["dry_run"]:
            return self._confirm(job)
        return self._answer(job, status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": ImportConfirmSerializer},
        responses={200: ImportJobSerializer, 202: ImportJobSerializer},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Import a previewed (dry-run) job; ``create_departments`` creates the departments it listed."""
        job = self._own_job()
        if job.status != ImportStatus.PREVIEWED:
            raise ValidationError({"status": [_("此导入当前不能确认(状态:%(s)s)。") % {"s": job.get_status_display()}]})
        given = ImportConfirmSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        # Omitted, the choice made at upload stands (a form's missing checkbox would read as false).
        chosen = given.validated_data["create_departments"] if "create_departments" in request.data else None
        return self._confirm(job, create_departments=chosen)

    @extend_schema(request=None, responses=ImportJobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Abandon an import that has not started writing; the stored file is deleted."""
        job = self._own_job()
        if not services.cancel_import(job, acting_user=request.user):
            raise ValidationError({"status": [_("此导入已开始或已结束,不能取消。")]})
        return self._answer(job, status.HTTP_200_OK)

    def _own_job(self) -> ImportJob:
        job = self.get_object()
        if not may_import(self.request.user, job.kind):
            raise PermissionDenied(_("没有导入此类名单的权限。"))
        return job

    def _confirm(self, job: ImportJob, *, create_departments: bool | None = None) -> Response:
        # A large import is queued; with the broker down it is recorded and sent later (portal.outbox).
        done = services.confirm_import(
            job, acting_user=self.request.user, defer=True, create_departments=create_departments
        )
        if done is None:
            return self._answer(job, status.HTTP_202_ACCEPTED)
        if done.status == ImportStatus.INVALID:
            raise ValidationError({"file": done.errors})
        return self._answer(done, status.HTTP_201_CREATED if self.action == "create" else status.HTTP_200_OK)

    def _answer(self, job: ImportJob, code: int) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data, status=code)


def _checked_upload(data: dict, user):
    """The upload checked like the admin's form: suffix, size, content sniffed against the suffix."""
    group = data.get("group")
    form = RosterUploadForm({"group": group.pk if group else ""}, {"file": data["file"]}, kind=data["kind"], user=user)
    if not form.is_valid():
        raise ValidationError({name: [str(e) for e in errors] for name, errors in form.errors.items()})
    return form.cleaned_data["file"]


class ChatImportViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Chat-export imports (HR), through the same service as the admin: upload → preview → import.

    ``dry_run`` stops at the preview (confirm later with ``POST …/confirm/``). A bad file answers 400
    with the line and field under ``fields.file``; nothing is written.
    """

    queryset = ChatImport.objects.all()
    serializer_class = ChatImportSerializer
    parser_classes = [MultiPartParser, FormParser]
    ordering = ["-created_at", "-id"]

    @extend_schema(request={"multipart/form-data": ChatUploadSerializer}, responses={201: ChatImportSerializer})
    def create(self, request, *args, **kwargs):
        given = ChatUploadSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        data = given.validated_data
        form = ChatUploadForm(
            {"group": data["group"].pk, "platform": data["platform"]}, {"file": data["file"]}, user=request.user
        )
        if not form.is_valid():
            raise ValidationError({name: [str(e) for e in errors] for name, errors in form.errors.items()})
        with audit_context(request.user, Channel.API):
            job = chat_store.create_chat_import(
                group=data["group"], acting_user=request.user, platform=data["platform"], upload=data["file"]
            )
            job = chat_store.preview_chat_import(job, detect=not data["platform"])
        if job.status == ImportStatus.INVALID:
            raise ValidationError({"file": job.errors})
        if not data["dry_run"]:
            job = self._run(job)
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ChatImportSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Import a previewed (dry-run) job."""
        job = self.get_object()
        return Response(self.get_serializer(self._run(job)).data)

    @extend_schema(request=None, responses=ChatImportSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = self.get_object()
        if not chat_store.cancel_chat_import(job, acting_user=request.user):
            raise ValidationError({"status": [_("此导入已开始或已结束,不能取消。")]})
        job.refresh_from_db()
        return Response(self.get_serializer(job).data)

    def _run(self, job):
        try:
            return chat_store.run_chat_import(job, acting_user=self.request.user, channel=Channel.API)
        except chat_store.ChatImportError as exc:
            raise ValidationError({"status": exc.messages}) from None


class ChatMessageViewSet(ScopedReadOnlyViewSet):
    """Messages of the groups the user may see (HR, auditors: all; heads and group admins: their
    groups'; others none). Lists carry no bodies; a detail does, and reading it is an audited access.
    Filters: ``group``, ``kind``, ``since`` / ``until`` (ISO times)."""

    queryset = ChatMessage.objects.all()
    serializer_class = ChatMessageSerializer
    ordering = ["group_id", "sent_at", "id"]

    def get_serializer_class(self):
        return ChatMessageDetailSerializer if self.action == "retrieve" else ChatMessageSerializer

    def refine_queryset(self, queryset):
        params = self.request.query_params if hasattr(self, "request") and self.request else {}
        for name, lookup in (
            ("group", "group_id"),
            ("kind", "kind"),
            ("since", "sent_at__gte"),
            ("until", "sent_at__lt"),
        ):
            value = params.get(name)
            if value:
                if name in ("since", "until"):
                    parsed = parse_datetime(value)
                    if parsed is None:
                        raise ValidationError({name: [_("不是有效的时间")]})
                    value = parsed
                elif name == "group" and not value.isdigit():
                    raise ValidationError({name: [_("应为群ID")]})
                queryset = queryset.filter(**{lookup: value})
        return queryset.order_by(*self.ordering)

    def retrieve(self, request, *args, **kwargs):
        message = self.get_object()
        log_access(request.user, message, "view", detail="聊天消息内容")
        return Response(self.get_serializer(message).data)

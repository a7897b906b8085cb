"""Every URL of the project, requested as every role (after cisagov/manage.get.gov's test_url_auth.py).

The project's URL patterns are walked recursively (``get_resolver``, the admin included). A pattern
must be covered either by ``EXPLICIT`` (a hand-written expectation per role) or by the documented
generic admin rule (``admin_expectation``): a new URL that neither covers FAILS the test, so whoever
adds a URL must say who may open it.

Generic admin rule, for ``admin:<app>_<model>_<action>`` of a registered model:
- anonymous → redirect to the admin login; logged in but not staff → the same redirect;
- staff: lists need the view (or change) permission (else 403); object pages answer 404 when the
  object is outside ``visible_to`` of a scoped admin (the same as an id that does not exist), else
  200 with the permission and 403 without; add/delete need their permission and the admin allowing it.
Object URLs are requested with an object of 销售部 — so head_tech must get 404 where head_sales gets 200.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from groups.roles import sync_derived_roles
from portal.admin_mixins import ScopedAdminMixin

from .dashboard_data import NOW, build

pytestmark = pytest.mark.django_db

ROLES = ["anon", "hr", "auditor", "head_sales", "head_tech", "group_admin", "employee_user", "outsider_user"]
STAFF = {"hr", "auditor", "head_sales", "head_tech", "group_admin"}
OK, FOUND, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, NOT_ALLOWED = 200, 302, 401, 403, 404, 405

# Model-level permissions each role holds (app_label.model → actions). HR: change everything of the
# managed apps; auditor: view; heads and group admins: view the models of their role group.
MANAGED_APPS = ("groups", "violations", "portal")
HEAD_MODELS = {
    "groups.department", "groups.employee", "groups.chatgroup", "groups.membership", "groups.rosterfinding",
    "groups.chatmessage", "violations.violation", "violations.sanction", "violations.appeal", "violations.rule",
}  # fmt: skip
GROUP_ADMIN_MODELS = {
    "groups.employee", "groups.chatgroup", "groups.membership", "groups.rosterfinding", "violations.violation",
    "violations.rule", "groups.chatmessage",
}  # fmt: skip


def perms(role: str, label: str) -> set[str]:
    app = label.split(".")[0]
    if role == "hr":
        if app in MANAGED_APPS:
            return {"view", "add", "change", "delete"}
        return {"view"} if app == "auditlog" else set()
    if role == "auditor":
        return {"view"} if app in (*MANAGED_APPS, "auditlog") else set()
    if role in ("head_sales", "head_tech"):
        return {"view"} if label in HEAD_MODELS else set()
    if role == "group_admin":
        return {"view"} if label in GROUP_ADMIN_MODELS else set()
    return set()


# Which roles can see the 销售部 object used for each model's object URLs (scoped admins only).
SALES_OBJECT_VISIBLE_TO = {
    "groups.department": {"hr", "auditor", "head_sales"},
    "groups.employee": {"hr", "auditor", "head_sales", "group_admin"},  # 张三 is in the group she administers
    "groups.chatgroup": {"hr", "auditor", "head_sales", "group_admin"},
    "groups.membership": {"hr", "auditor", "head_sales", "group_admin"},
    "groups.rosterfinding": {"hr", "auditor", "head_sales", "group_admin"},
    "violations.violation": {"hr", "auditor", "head_sales", "group_admin"},  # recorded in her group
    "violations.sanction": {"hr", "auditor", "head_sales", "group_admin"},
    "violations.appeal": {"hr", "auditor", "head_sales", "group_admin"},
    "violations.evidence": {"hr", "auditor", "head_sales", "group_admin"},
    "groups.chatmessage": {"hr", "auditor", "head_sales", "group_admin"},  # a message of her group
    "groups.chatimport": {"hr", "auditor"},  # imports are HR's
}
# Admins that never allow adding / deleting through the portal, whatever the permissions.
# (Violations, sanctions and appeals change only through services: no add/delete pages for them.)
NO_ADD = {
    "groups.chatimport", "groups.chatmessage",  # imported through the upload page only
    "groups.importjob", "groups.rosterfinding", "groups.rostersettings", "auditlog.logentry",
    "groups.memberrestriction",  # written by carried-out sanctions
    "portal.notificationlog", "violations.companysettings", "violations.sanction", "violations.appeal",
    "portal.wecomconnection",  # one row
    "violations.performancemonth", "violations.performancededuction",  # computed by the deductions job
    "violations.detection", "violations.detectionrun",  # written by chat detection runs only
    "violations.directivesettings",  # one row, seeded
    "groups.wecomsyncrun", "groups.wecomchat", "groups.wecomuser", "groups.directoryfinding",  # the WeCom sync's
}  # fmt: skip
NO_DELETE = {
    "auditlog.logentry", "groups.rostersettings", "portal.wecomconnection",
    "groups.chatimport", "groups.chatmessage",  # records; bodies are purged by the retention job
    "groups.rosterfinding", "groups.importjob",  # the record: waived / cancelled with a reason instead
    "groups.memberrestriction",  # written by carried-out sanctions
    "violations.rule", "violations.companysettings", "violations.lexiconentry",  # deactivated instead
    "violations.violation",
    "violations.sanction", "violations.appeal", "violations.performancemonth", "violations.performancededuction",
    "violations.detection", "violations.detectionrun",  # the record of what detection found
    "violations.directivesettings",
    "groups.wecomsyncrun", "groups.wecomchat", "groups.wecomuser", "groups.directoryfinding",  # the WeCom sync's
}  # fmt: skip
NO_CHANGE = {"groups.importjob"}


def _all(status: int, **overrides) -> dict[str, int]:
    return {role: overrides.get(role, status) for role in ROLES}


LOGIN = "login"  # a redirect to the login page
ADMIN_LOGIN = "admin_login"


def _staff_only(staff_status, other=ADMIN_LOGIN, anon=ADMIN_LOGIN, **overrides):
    result = {role: (staff_status if role in STAFF else other) for role in ROLES}
    result["anon"] = anon
    result.update(overrides)
    return result


# name → (how to build the URL, expectations per role). Expectations are a status or a redirect kind.
EXPLICIT = {
    "home": ("", _all(OK, anon=LOGIN, **dict.fromkeys(("hr", "auditor", "head_sales", "head_tech"), "/dashboard/"))),
    "dashboard": (
        "",
        _all(FORBIDDEN, anon=LOGIN, hr=OK, auditor=OK, head_sales=OK, head_tech=OK),
    ),
    "dashboard#sales": (
        "?dept={sales}",
        _all(FORBIDDEN, anon=LOGIN, hr=OK, auditor=OK, head_sales=OK, head_tech=NOT_FOUND),
    ),
    # A group admin's work queue: owners and admins of a group (李销售 owns the sales group) and HR.
    "work_queue": ("", _all(FORBIDDEN, anon=LOGIN, hr=OK, head_sales=OK, group_admin=OK)),
    # The dashboard's drill-downs (phone-sized lists): whoever has the dashboard; ?dept= outside → 404.
    "dashboard_findings": ("", _all(FORBIDDEN, anon=LOGIN, hr=OK, auditor=OK, head_sales=OK, head_tech=OK)),
    "dashboard_findings#sales": (
        "?dept={sales}",
        _all(FORBIDDEN, anon=LOGIN, hr=OK, auditor=OK, head_sales=OK, head_tech=NOT_FOUND),
    ),
    "dashboard_violations": ("", _all(FORBIDDEN, anon=LOGIN, hr=OK, auditor=OK, head_sales=OK, head_tech=OK)),
    "dashboard_violations#sales": (
        "?dept={sales}",
        _all(FORBIDDEN, anon=LOGIN, hr=OK, auditor=OK, head_sales=OK, head_tech=NOT_FOUND),
    ),
    "login": ("", _all(OK)),
    "favicon": ("", _all(OK)),
    "logout": ("", _all(NOT_ALLOWED)),  # POST only
    "set_language": ("", _all(FOUND)),  # GET: back to the referring page, nothing changed
    "admin:index": ("", _staff_only(OK)),
    "admin:login": ("", _all(OK, **dict.fromkeys(STAFF, FOUND))),
    "admin:logout": ("", _staff_only(NOT_ALLOWED, other="/admin/", anon="/admin/")),
    "admin:password_change": ("", _staff_only(OK)),
    "admin:password_change_done": ("", _staff_only(OK)),
    "admin:autocomplete": ("", _staff_only(FORBIDDEN)),  # without its parameters
    "admin:jsi18n": ("", _staff_only(OK)),
    "admin:javascript-catalog": ("", _all(OK)),  # treebeard's translation catalogue (static strings)
    "admin:view_on_site": ("", _staff_only(NOT_FOUND)),
    "admin:app_list": ("", None),  # per app below
    "admin:auth_user_password_change": ("", _staff_only(FORBIDDEN)),  # superusers only
    # Employee self-service (violations app): own records, appeal (own violation only), report, evidence.
    "violations:mine": ("", _all(OK, anon=LOGIN)),
    "violations:appeal": ("", _all(NOT_FOUND, anon=LOGIN, employee_user=OK)),  # 张三's own violation
    "violations:report": ("", _all(OK, anon=LOGIN)),
    "violations:evidence": ("", _all(NOT_FOUND, anon=LOGIN)),  # no such file (and never someone else's)
    "violations:preview": ("", _all(FORBIDDEN, anon=LOGIN, hr=400)),  # HR's record form; 400 without its fields
    "violations:holiday_schedule": ("", _all(FORBIDDEN, anon=LOGIN, hr=OK)),  # HR enters a year's holidays
    # 待核实 (chat detection): HR and the admins of the suspicion's group (李销售 owns it, 孙七 administers
    # it); 404 for anyone else, auditors and other heads included. Decisions are POST only.
    "violations:suspicions": ("", _all(NOT_FOUND, anon=LOGIN, hr=OK, head_sales=OK, group_admin=OK)),
    "violations:suspicion": (
        "",
        _all(NOT_FOUND, anon=LOGIN, hr=OK, head_sales=OK, group_admin=OK),
        "violations_suspected",
    ),
    "violations:suspicion_confirm": ("", _all(NOT_ALLOWED, anon=LOGIN), "violations_suspected"),
    "violations:suspicion_dismiss": ("", _all(NOT_ALLOWED, anon=LOGIN), "violations_suspected"),
    # The violations read API (session auth here): scoped lists, 404 outside scope.
    "violations:api-root": ("", _all(OK, anon=UNAUTHORIZED)),
    "violations:violation-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "violations:violation-detail": ("", _all(OK, anon=UNAUTHORIZED, head_tech=NOT_FOUND, outsider_user=NOT_FOUND)),
    # Probes and the REST API (portal.api): lists are scoped; details of 销售部 objects answer 404
    # outside the scope; anonymous calls 401.
    "healthz": ("", _all(OK)),
    "readyz": ("", _all(OK)),
    "api:token": ("", _all(NOT_ALLOWED)),  # POST only
    "api:api-root": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:schema": ("", _all(OK, anon=UNAUTHORIZED)),  # signed-in users only
    "api:docs": ("", _all(OK, anon=LOGIN)),
    "api:redoc": ("", _all(OK, anon=LOGIN)),
    "api:department-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:employee-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:group-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:membership-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:department-detail": (
        "",
        _all(NOT_FOUND, anon=UNAUTHORIZED, hr=OK, auditor=OK, head_sales=OK),
        "groups_department",
    ),
    "api:employee-detail": (  # 张三: in the group she administers (group_admin), and himself (employee_user)
        "",
        _all(OK, anon=UNAUTHORIZED, head_tech=NOT_FOUND, outsider_user=NOT_FOUND),
        "groups_employee",
    ),
    "api:group-detail": (
        "",
        _all(OK, anon=UNAUTHORIZED, head_tech=NOT_FOUND, employee_user=NOT_FOUND, outsider_user=NOT_FOUND),
        "groups_chatgroup",
    ),
    "api:membership-detail": (
        "",
        _all(OK, anon=UNAUTHORIZED, head_tech=NOT_FOUND, outsider_user=NOT_FOUND),
        "groups_membership",
    ),
    # Violations, appeals, rules, findings, imports and deductions in the REST API. POST-only actions
    # answer 405 to a GET once the caller is authenticated.
    "api:violation-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:violation-detail": (
        "",
        _all(OK, anon=UNAUTHORIZED, head_tech=NOT_FOUND, outsider_user=NOT_FOUND),
        "violations_violation",
    ),
    "api:violation-confirm": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:violation-dismiss": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:violation-notify": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:violation-removal-done": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:violation-sanction": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:appeal-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:appeal-detail": (
        "",
        _all(OK, anon=UNAUTHORIZED, head_tech=NOT_FOUND, outsider_user=NOT_FOUND),
        "violations_appeal",
    ),
    "api:appeal-decide": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:rule-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:rule-detail": ("", _all(OK, anon=UNAUTHORIZED), "violations_rule"),
    "api:finding-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:finding-detail": (
        "",
        _all(NOT_FOUND, anon=UNAUTHORIZED, hr=OK, auditor=OK, head_sales=OK, group_admin=OK),
        "groups_rosterfinding",
    ),
    "api:finding-mark-removed": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:finding-waive": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:import-list": ("", _all(OK, anon=UNAUTHORIZED)),  # one's own jobs only (none here); POST needs HR
    "api:import-detail": ("", _all(NOT_FOUND, anon=UNAUTHORIZED)),  # no such job (and never another's)
    "api:import-confirm": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    "api:import-cancel": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED)),
    # Chat imports (HR; auditors read them) and messages (scoped to the groups one may see).
    "api:chat-import-list": ("", _all(OK, anon=UNAUTHORIZED)),  # empty for anyone but HR and auditors
    "api:chat-import-detail": ("", _all(NOT_FOUND, anon=UNAUTHORIZED, hr=OK, auditor=OK), "groups_chatimport"),
    "api:chat-import-confirm": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED), "groups_chatimport"),
    "api:chat-import-cancel": ("", _all(NOT_ALLOWED, anon=UNAUTHORIZED), "groups_chatimport"),
    "api:chat-message-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:chat-message-detail": (
        "",
        _all(NOT_FOUND, anon=UNAUTHORIZED, hr=OK, auditor=OK, head_sales=OK, group_admin=OK),
        "groups_chatmessage",
    ),
    "api:deduction-list": ("", _all(OK, anon=UNAUTHORIZED)),
    "api:deduction-detail": ("", _all(NOT_FOUND, anon=UNAUTHORIZED)),  # none computed here
    # The payroll export: HR, auditors and heads (400 here: no ?month=); anyone else 403.
    "api:deduction-export": (
        "",
        _all(FORBIDDEN, anon=UNAUTHORIZED, hr=400, auditor=400, head_sales=400, head_tech=400),
    ),
    # Roster imports (HR, through the admin site): non-staff go to the admin login.
    "groups:import_upload": ("", _staff_only(FORBIDDEN, hr=OK)),
    "groups:import_job": ("", _staff_only(NOT_FOUND)),  # no such job (and never another's)
    "groups:import_progress": ("", _staff_only(NOT_FOUND)),
    "groups:import_confirm": ("", _staff_only(NOT_ALLOWED)),  # POST only
    "groups:import_validate": ("", _staff_only(NOT_ALLOWED)),
    "groups:import_cancel": ("", _staff_only(NOT_ALLOWED)),
    "admin:groups_rosterfinding_reconcile_now": ("", _staff_only(FORBIDDEN)),  # a POST action
    "admin:groups_wecomsyncrun_sync_now": ("", _staff_only(FORBIDDEN)),  # a POST action (立即同步)
    # Chat-export imports (HR only, inside the admin site): another's job is 404 to non-HR staff.
    "groups:chat_import_upload": ("", _staff_only(FORBIDDEN, hr=OK)),
    "groups:chat_import_job": ("", _staff_only(NOT_FOUND, hr=OK), "groups_chatimport"),
    "groups:chat_import_confirm": ("", _staff_only(NOT_ALLOWED), "groups_chatimport"),  # POST only
    "groups:chat_import_cancel": ("", _staff_only(NOT_ALLOWED), "groups_chatimport"),
    "groups:chat_import_progress": ("", _staff_only(NOT_FOUND, hr=OK), "groups_chatimport"),
    # A group admin's own pages (portal): the 销售部 finding / group; 404 for whoever does not
    # administer it (auditors and heads as such included); POST-only actions 405 to a GET.
    "groups:work_removed": (
        "",
        _all(NOT_FOUND, anon=LOGIN, hr=OK, head_sales=OK, group_admin=OK),
        "groups_rosterfinding",
    ),
    "groups:work_nickname_fixed": ("", _all(NOT_ALLOWED), "groups_rosterfinding"),
    "groups:work_chase": ("", _all(NOT_ALLOWED), "groups_rosterfinding"),
    # The 销售部 finding is a departed member, not a departed owner: no successor to pick anywhere.
    "groups:work_successor": ("", _all(NOT_FOUND, anon=LOGIN), "groups_rosterfinding"),
    "groups:work_roster_upload": (
        "",
        _all(NOT_FOUND, anon=LOGIN, hr=OK, head_sales=OK, group_admin=OK),
        "groups_chatgroup",
    ),
    "groups:work_roster_job": ("", _all(NOT_FOUND, anon=LOGIN)),  # no such job (and never another's)
    "groups:work_roster_confirm": ("", _all(NOT_ALLOWED)),
    "groups:work_roster_cancel": ("", _all(NOT_ALLOWED)),
    # django-treebeard's extra admin URLs for the department tree (unnamed):
    # (GET to move/ is a bad request; a POST also needs the change permission on the node.)
    "admin/groups/department/move/": ("", _staff_only(400, group_admin=FORBIDDEN)),
    # children/ lists scoped children: head_tech gets 200 with no rows (test_department_children_scoped).
    "admin/groups/department/children/<str:parent_id>/": ("", _staff_only(OK, group_admin=FORBIDDEN)),
    # Monthly deductions (HR only): the compute and close confirmation pages.
    "admin:violations_performancemonth_compute": ("", _staff_only(FORBIDDEN, hr=OK)),
    "admin:violations_performancemonth_close": ("", _staff_only(FORBIDDEN, hr=NOT_FOUND)),  # no such month
    # The month's export for payroll: whoever may view the months (HR, auditors); no such month here.
    "admin:violations_performancemonth_export": ("", _staff_only(FORBIDDEN, hr=NOT_FOUND, auditor=NOT_FOUND)),
    # Violation report export: HR, auditors and department heads; jobs only for their requester and HR.
    "violations:export": ("", _all(FORBIDDEN, anon=LOGIN, hr=OK, auditor=OK, head_sales=OK, head_tech=OK)),
    "violations:export_job": ("", _all(NOT_FOUND, anon=LOGIN)),  # no such job (and never another's)
    "violations:export_job_status": ("", _all(NOT_FOUND, anon=LOGIN)),
    "violations:export_download": ("", _all(NOT_FOUND, anon=LOGIN)),
    # Deciding an appeal (the facts, both outcomes, the buttons): HR decides; auditors and the head of
    # the employee's department read it; 404 outside the scope; group admins cannot view appeals.
    "admin:violations_appeal_decide": (
        "",
        _staff_only(OK, head_tech=NOT_FOUND, group_admin=FORBIDDEN),
        "violations_appeal",
    ),
    # The admin's final catch-all (an unknown admin page):
    "admin/(?P<url>.*)$": ("", _staff_only(NOT_FOUND)),
}


# --- walking the URL configuration ---------------------------------------------------------------------


def walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace and (f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace)
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), ns or namespace)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield prefix + str(pattern.pattern), name, pattern


ADMIN_MODEL_URL = re.compile(r"^admin:(?P<app>[a-z_]+?)_(?P<model>[a-z0-9]+)_(?P<action>[a-z_]+)$")


def registered_models() -> dict[str, tuple]:
    return {f"{m._meta.app_label}_{m._meta.model_name}": (m, ma) for m, ma in admin.site._registry.items()}


def admin_expectation(name: str, role: str, model, model_admin, obj_visible: bool | None):
    """The documented generic rule (module docstring)."""
    if role not in STAFF:
        return ADMIN_LOGIN
    label = f"{model._meta.app_label}.{model._meta.model_name}"
    action = ADMIN_MODEL_URL.match(name)["action"]
    have = perms(role, label)
    if action == "changelist":
        return OK if have & {"view", "change"} else FORBIDDEN
    if action == "add":
        return OK if "add" in have and label not in NO_ADD else FORBIDDEN
    if action == "export":
        code = getattr(settings, "IMPORT_EXPORT_EXPORT_PERMISSION_CODE", None)
        return OK if code is None or code in have else FORBIDDEN
    if action == "import":  # django-import-export's upload page (the lexicon's CSV import)
        code = getattr(settings, "IMPORT_EXPORT_IMPORT_PERMISSION_CODE", None)
        return OK if code is None or code in have else FORBIDDEN
    if action == "process_import":
        return NOT_ALLOWED  # POST only, before any permission check
    if obj_visible is False:
        return NOT_FOUND
    if action in ("change", "history"):
        return OK if have & {"view", "change"} else FORBIDDEN
    if action == "delete":
        return OK if "delete" in have and label not in NO_DELETE else FORBIDDEN
    return None  # an admin URL the rule does not know: must be listed in EXPLICIT


@pytest.fixture
def world(org, hr, auditor, head_sales, head_tech, group_admin, employee_user, outsider_user, monkeypatch):
    from groups.models import ChatImport, ChatMessage, Membership, RosterFinding
    from violations.models import Appeal, Evidence, Rule, Sanction, Violation

    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    data = build(org)
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    Appeal.objects.create(violation=data["v1"], statement="不服", decision_due=NOW.date(), filed_at=NOW)
    sync_derived_roles(acting_user=None)
    chat_import = ChatImport.objects.create(group=org["sales_group"], platform="wechat", original_name="群聊.csv")
    message = ChatMessage.objects.create(
        group=org["sales_group"], platform="wechat", natural_key="7:1", sent_at=NOW, kind="text", text="收到"
    )
    suspected = Violation.objects.create(
        employee=org["east_rep"], group=org["sales_group"], rule=Rule.objects.get(code="B06"), occurred_at=NOW,
        description="休息时间发言", status="suspected", channel="detection",
    )  # fmt: skip
    objects = {
        "groups_chatimport": chat_import.pk,
        "groups_chatmessage": message.pk,
        "groups_department": org["sales"].pk,
        "groups_employee": org["east_rep"].pk,
        "groups_chatgroup": org["sales_group"].pk,
        "groups_membership": Membership.objects.filter(group=org["sales_group"]).first().pk,
        "groups_rosterfinding": RosterFinding.objects.get(group=org["sales_group"]).pk,
        "violations_violation": data["v1"].pk,
        "violations_suspected": suspected.pk,
        "violations_sanction": Sanction.objects.filter(violation=data["v1"]).first().pk,
        "violations_appeal": data["v1"].appeal.pk,
        "violations_rule": Rule.objects.get(code="C04").pk,
        "auth_user": hr.pk,
    }
    assert Evidence.objects.count() == 0  # evidence object URLs are checked with a missing id (404 for all)
    users = {
        "hr": hr,
        "auditor": auditor,
        "head_sales": head_sales,
        "head_tech": head_tech,
        "group_admin": group_admin,
        "employee_user": employee_user,
        "outsider_user": outsider_user,
    }
    return {"org": org, "objects": objects, "users": users}


def build_url(route: str, pattern: URLPattern, key: str | None, world) -> str:
    """A concrete URL for a route (path or regex syntax): object ids of 销售部 where it takes one."""
    obj_id = str(world["objects"].get(key or "", 999999))
    url = re.sub(r"\(\?P<(?:pk|object_id|id)>[^)]*\)", obj_id, route)
    url = re.sub(r"<(?:path:|int:|str:)?(object_id|id|pk)>", obj_id, url)
    url = re.sub(r"\(\?P<format>[^)]*\)", "json", url)
    url = url.replace("<drf_format_suffix:format>", ".json")
    url = url.replace("<path:content_type_id>", "1").replace("<str:parent_id>", str(world["org"]["sales"].pk))
    url = url.replace("/?", "/").replace("\\.", ".").replace("^", "").replace("$", "").replace("\\Z", "")
    url = re.sub(r"\(\?P<app_label>[^)]*\)\)?", "", url)
    assert "<" not in url and "(" not in url, f"cannot build a URL for {route!r}: add a rule to build_url"
    return "/" + url


def check(client, url: str, expected) -> tuple[bool, str]:
    response = client.get(url)
    if expected == LOGIN:
        ok = response.status_code == FOUND and response.url.startswith(reverse("login"))
    elif expected == ADMIN_LOGIN:
        ok = response.status_code == FOUND and response.url.startswith(reverse("admin:login"))
    elif isinstance(expected, str):
        ok = response.status_code == FOUND and response.url.split("?")[0] == expected
    else:
        ok = response.status_code == expected
    got = response.status_code if response.status_code != FOUND else f"302→{response.url}"
    return ok, f"{url}: expected {expected}, got {got}"


def expectations(world):
    """(label, url, {role: expected}) for every URL pattern; fails on a pattern nobody covered."""
    registry = registered_models()
    uncovered = []
    for route, name, pattern in walk(get_resolver().url_patterns):
        if name is None and route.startswith("admin/") and route.endswith("<path:object_id>/"):
            # The admin's bare object URL only redirects to the change page.
            yield route, build_url(route, pattern, None, world), _staff_only(FOUND)
            continue
        if name == "admin:app_list":
            for app in sorted({m._meta.app_label for m in admin.site._registry}):
                yield f"{name}:{app}", f"/admin/{app}/", app_list_expectation(app)
            continue
        key = name if name in EXPLICIT else route if route in EXPLICIT else None
        if key:
            obj_key = "violations_violation" if name and name.startswith("violations:") else None
            entry = EXPLICIT[key]
            obj_key = entry[2] if len(entry) > 2 else None if name == "violations:evidence" else obj_key
            route = route.replace("<str:kind>", "employees")
            base = "/admin/no-such-page/" if "(?P<url>" in route else build_url(route, pattern, obj_key, world)
            for label, (suffix, expected, *_obj) in EXPLICIT.items():
                if label == key or label.startswith(f"{key}#"):
                    yield label, base + suffix.format(sales=world["org"]["sales"].pk), expected
            continue
        match = name and ADMIN_MODEL_URL.match(name)
        key = match and next((k for k in registry if name.startswith(f"admin:{k}_")), None)
        if not key:
            uncovered.append((route, name))
            continue
        model, model_admin = registry[key]
        roles = object_expectations(name, route, key, model, model_admin, world)
        if roles is None:
            uncovered.append((route, name))
        else:
            yield name, build_url(route, pattern, key, world), roles
    assert not uncovered, f"URL patterns with no expectation in test_url_auth.py: {uncovered}"


def object_expectations(name, route, key, model, model_admin, world) -> dict | None:
    label = f"{model._meta.app_label}.{model._meta.model_name}"
    has_object = "object_id" in route or "<id>" in route
    scoped = isinstance(model_admin, ScopedAdminMixin)
    missing = has_object and key not in world["objects"]
    if has_object and scoped and not missing and label not in SALES_OBJECT_VISIBLE_TO:
        return None
    roles = {"anon": ADMIN_LOGIN}
    for role in ROLES[1:]:
        visible = True if not has_object or not scoped else not missing and role in SALES_OBJECT_VISIBLE_TO[label]
        expected = admin_expectation(name, role, model, model_admin, visible)
        if expected is None:
            return None
        action = ADMIN_MODEL_URL.match(name)["action"]
        if missing and not scoped and (expected == OK or action == "history"):
            # An unscoped admin answers a missing id with its "does not exist" redirect (the history
            # view before it checks permissions).
            expected = FOUND
        roles[role] = expected
    return roles


def app_list_expectation(app: str) -> dict:
    result = {}
    for role in ROLES:
        if role not in STAFF:
            result[role] = ADMIN_LOGIN
            continue
        models = [m for m in admin.site._registry if m._meta.app_label == app]
        result[role] = OK if any(perms(role, f"{app}.{m._meta.model_name}") for m in models) else NOT_FOUND
    return result


def test_every_url_as_every_role(client, world):
    failures = []
    checked = 0
    for label, url, expected in expectations(world):
        for role in ROLES:
            client.logout()
            if role != "anon":
                client.force_login(world["users"][role])
            ok, message = check(client, url, expected[role])
            checked += 1
            if not ok:
                failures.append(f"{role:14} {label}: {message}")
    assert checked > 500
    assert not failures, "\n".join(failures)


def test_head_cannot_open_sibling_objects_by_id(client, world):
    """The point of the matrix, spelled out: head_tech guessing 销售部 ids gets 404 everywhere."""
    client.force_login(world["users"]["head_tech"])
    for key in ("groups_employee", "groups_chatgroup", "violations_violation", "groups_rosterfinding"):
        app, model = key.split("_", 1)
        url = reverse(f"admin:{app}_{model}_change", args=[world["objects"][key]])
        assert client.get(url).status_code == NOT_FOUND, url
    client.force_login(world["users"]["head_sales"])
    url = reverse("admin:groups_employee_change", args=[world["objects"]["groups_employee"]])
    assert client.get(url).status_code == OK


def test_department_children_scoped(client, world):
    """treebeard's children endpoint goes through the scoped queryset: no rows of a sibling subtree."""
    sales = world["org"]["sales"]
    client.force_login(world["users"]["head_tech"])
    response = client.get(f"/admin/groups/department/children/{sales.pk}/")
    assert response.status_code == OK
    assert "华东区" not in response.json()["result_html"]
    client.force_login(world["users"]["head_sales"])
    assert "华东区" in client.get(f"/admin/groups/department/children/{sales.pk}/").json()["result_html"]


def test_department_tree_starts_at_the_heads_own_department(client, world):
    """A head cannot see the company root, so their tree starts at the departments they head."""
    org = world["org"]
    client.force_login(world["users"]["head_sales"])
    page = client.get("/admin/groups/department/").content.decode()
    assert f'data-node-id="{org["sales"].pk}"' in page or f"/admin/groups/department/{org['sales'].pk}/change/" in page
    assert "技术部" not in page and f"/admin/groups/department/{org['root'].pk}/change/" not in page
    client.force_login(world["users"]["hr"])
    page = client.get("/admin/groups/department/").content.decode()
    assert f"/admin/groups/department/{org['root'].pk}/change/" in page
    assert f"/admin/groups/department/{org['sales'].pk}/change/" not in page  # a child: shown on expand

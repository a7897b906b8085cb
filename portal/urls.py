from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from . import errors, health
from .dashboard import views

admin.site.site_header = _("群规 Qungui")
admin.site.site_title = _("群规 Qungui")
admin.site.index_title = _("管理后台")

urlpatterns = [
    # Answered by portal.health.HealthCheckMiddleware first; listed here so they can be reversed.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("favicon.ico", errors.favicon, name="favicon"),
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("queue/", views.work_queue, name="work_queue"),
    path("dashboard/findings/", views.findings_list, name="dashboard_findings"),
    path("dashboard/violations/", views.violations_list, name="dashboard_violations"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("portal.api.urls")),
    path("groups/", include("groups.urls")),
    path("violations/", include("violations.urls")),
]

# The portal's own error pages (also with DEBUG on: portal.errors.ErrorPageMiddleware).
handler403 = "portal.errors.permission_denied"
handler404 = "portal.errors.page_not_found"

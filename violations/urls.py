"""Violations: self-service pages, evidence downloads, the admin form's preview endpoint."""

from django.urls import path

from . import holiday_views, suspicion_views, views

app_name = "violations"

urlpatterns = [
    path("mine/", views.my_records, name="mine"),
    path("<int:pk>/appeal/", views.appeal, name="appeal"),
    path("report/", views.report, name="report"),
    path("evidence/<int:pk>/", views.evidence, name="evidence"),
    path("preview/", views.preview, name="preview"),
    path("calendar/", holiday_views.holiday_schedule, name="holiday_schedule"),
    path("suspected/", suspicion_views.suspicion_list, name="suspicions"),
    path("suspected/<int:pk>/", suspicion_views.suspicion_detail, name="suspicion"),
    path("suspected/<int:pk>/confirm/", suspicion_views.suspicion_confirm, name="suspicion_confirm"),
    path("suspected/<int:pk>/dismiss/", suspicion_views.suspicion_dismiss, name="suspicion_dismiss"),
]

from .reports import views as report_views  # noqa: E402

urlpatterns += [
    path("export/", report_views.export_page, name="export"),
    path("export/jobs/<int:pk>/", report_views.export_job, name="export_job"),
    path("export/jobs/<int:pk>/status/", report_views.export_job_status, name="export_job_status"),
    path("export/jobs/<int:pk>/download/", report_views.export_download, name="export_download"),
]

"""Violations: self-service pages, evidence downloads, the admin form's preview endpoint."""

from django.urls import path

from . import views

app_name = "violations"

urlpatterns = [
    path("mine/", views.my_records, name="mine"),
    path("<int:pk>/appeal/", views.appeal, name="appeal"),
    path("report/", views.report, name="report"),
    path("evidence/<int:pk>/", views.evidence, name="evidence"),
    path("preview/", views.preview, name="preview"),
]

from . import views_reports  # noqa: E402  (report export pages, kept in their own module)

urlpatterns += [
    path("export/", views_reports.export_page, name="export"),
    path("export/jobs/<int:pk>/", views_reports.export_job, name="export_job"),
    path("export/jobs/<int:pk>/status/", views_reports.export_job_status, name="export_job_status"),
    path("export/jobs/<int:pk>/download/", views_reports.export_download, name="export_download"),
]

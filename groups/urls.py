from django.contrib import admin
from django.urls import path

from . import views

app_name = "groups"

urlpatterns = [
    path("import/<str:kind>/", admin.site.admin_view(views.upload), name="import_upload"),
    path("import/job/<int:pk>/", admin.site.admin_view(views.job_detail), name="import_job"),
    path("import/job/<int:pk>/confirm/", admin.site.admin_view(views.confirm), name="import_confirm"),
    path("import/job/<int:pk>/validate/", admin.site.admin_view(views.retry_validation), name="import_validate"),
    path("import/job/<int:pk>/cancel/", admin.site.admin_view(views.cancel), name="import_cancel"),
    path("import/job/<int:pk>/progress/", admin.site.admin_view(views.progress), name="import_progress"),
]

from django.contrib import admin
from django.urls import path

from . import views
from .chat import views as chat_views

app_name = "groups"

urlpatterns = [
    path("import/<str:kind>/", admin.site.admin_view(views.upload), name="import_upload"),
    path("import/job/<int:pk>/", admin.site.admin_view(views.job_detail), name="import_job"),
    path("import/job/<int:pk>/confirm/", admin.site.admin_view(views.confirm), name="import_confirm"),
    path("import/job/<int:pk>/validate/", admin.site.admin_view(views.retry_validation), name="import_validate"),
    path("import/job/<int:pk>/cancel/", admin.site.admin_view(views.cancel), name="import_cancel"),
    path("import/job/<int:pk>/progress/", admin.site.admin_view(views.progress), name="import_progress"),
    # Chat exports (HR): upload → preview → confirm.
    path("chat/import/", admin.site.admin_view(chat_views.upload), name="chat_import_upload"),
    path("chat/import/<int:pk>/", admin.site.admin_view(chat_views.job_detail), name="chat_import_job"),
    path("chat/import/<int:pk>/confirm/", admin.site.admin_view(chat_views.confirm), name="chat_import_confirm"),
    path("chat/import/<int:pk>/cancel/", admin.site.admin_view(chat_views.cancel), name="chat_import_cancel"),
    path("chat/import/<int:pk>/progress/", admin.site.admin_view(chat_views.progress), name="chat_import_progress"),
]

from . import work_views  # noqa: E402

# A group admin's own pages (portal, phone-sized): actions on their groups' findings, roster import.
urlpatterns += [
    path("work/findings/<int:pk>/removed/", work_views.finding_removed, name="work_removed"),
    path("work/findings/<int:pk>/nickname-fixed/", work_views.finding_nickname_fixed, name="work_nickname_fixed"),
    path("work/findings/<int:pk>/chase/", work_views.finding_chase, name="work_chase"),
    path("work/findings/<int:pk>/successor/", work_views.finding_successor, name="work_successor"),
    path("work/<int:pk>/roster/", work_views.roster_upload, name="work_roster_upload"),
    path("work/roster/<int:pk>/", work_views.roster_job, name="work_roster_job"),
    path("work/roster/<int:pk>/confirm/", work_views.roster_confirm, name="work_roster_confirm"),
    path("work/roster/<int:pk>/cancel/", work_views.roster_cancel, name="work_roster_cancel"),
]

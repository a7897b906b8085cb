"""/api/v1/... (one router for every app's viewsets), /api/schema/, /api/docs/, /api/redoc/ (signed in)."""

from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from groups.api.urls import router as groups_router
from violations.api.urls import router as violations_router

from .auth import ObtainTokenView

app_name = "api"

router = DefaultRouter()
# Each app keeps its own router in <app>/api/urls.py; adding an app's endpoints is one line here.
for app_router in (groups_router, violations_router):
    router.registry.extend(app_router.registry)


class RedocView(SpectacularRedocView):
    template_name = "api/redoc.html"  # drf-spectacular's own page loads Google Fonts


urlpatterns = [
    path("v1/auth/token/", ObtainTokenView.as_view(), name="token"),
    path("v1/", include(router.urls)),
    # Signed-in users only (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]): the schema answers 401 to
    # API clients without credentials; the docs pages send browsers to the login page.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", login_required(SpectacularSwaggerView.as_view(url_name="api:schema")), name="docs"),
    path("redoc/", login_required(RedocView.as_view(url_name="api:schema")), name="redoc"),
]

"""The organisation endpoints, merged into /api/v1/ by portal.api.urls."""

from rest_framework.routers import SimpleRouter

from .views import (
    ChatGroupViewSet,
    ChatImportViewSet,
    ChatMessageViewSet,
    DepartmentViewSet,
    EmployeeViewSet,
    ImportJobViewSet,
    MembershipViewSet,
    RosterFindingViewSet,
)

router = SimpleRouter()
router.register("departments", DepartmentViewSet, basename="department")
router.register("employees", EmployeeViewSet, basename="employee")
router.register("groups", ChatGroupViewSet, basename="group")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("findings", RosterFindingViewSet, basename="finding")
router.register("imports", ImportJobViewSet, basename="import")

urlpatterns = router.urls

router.register("chat-imports", ChatImportViewSet, basename="chat-import")
router.register("chat-messages", ChatMessageViewSet, basename="chat-message")
urlpatterns = router.urls

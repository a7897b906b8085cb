"""The organisation endpoints, merged into /api/v1/ by portal.api.urls."""

from rest_framework.routers import SimpleRouter

from .views import (
    ChatGroupViewSet,
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

"""The violations endpoints, merged into /api/v1/ by portal.api.urls."""

from rest_framework.routers import SimpleRouter

from .views import AppealViewSet, PerformanceDeductionViewSet, RuleViewSet, ViolationViewSet

router = SimpleRouter()
router.register("violations", ViolationViewSet, basename="violation")
router.register("appeals", AppealViewSet, basename="appeal")
router.register("rules", RuleViewSet, basename="rule")
router.register("deductions", PerformanceDeductionViewSet, basename="deduction")

urlpatterns = router.urls

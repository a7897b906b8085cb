"""A login is only as good as the employment behind it.

When an employee leaves (status 离职), ``groups.offboarding`` deactivates their account and deletes
their API token in the same transaction. This module is the second line: whatever path marked the
person departed (a bulk import, a raw UPDATE, a path that forgot the offboarding call), a login
linked to a departed employee is refused everywhere:

- ``EmployedModelBackend``: the password login, the API token login (both call ``authenticate``)
  and every session request (Django re-loads the session's user through the backend);
- ``groups.api.authentication.EmployedTokenAuthentication``: API calls with a token;
- ``portal.scoping.scope_for``: no roles, no rows (the dashboard, exports, lists, the API);
- ``violations.services.report_violation``: no reports.

Logins without an employee record (the superuser, external auditors) are not affected.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

DEPARTED = "departed"  # groups.choices.EmployeeStatus.DEPARTED (not imported: apps load after settings)


def is_departed(user) -> bool:
    """True when ``user`` is linked to an employee whose status is departed.

    Uses the employee loaded with the user when there is one (``select_related("employee")``),
    else one query.
    """
    if user is None or not getattr(user, "pk", None):
        return False
    cache = user._state.fields_cache
    if "employee" in cache:
        employee = cache["employee"]
        return employee is not None and employee.status == DEPARTED
    from groups.models import Employee

    return Employee.objects.filter(user_id=user.pk, status=DEPARTED).exists()


class EmployedModelBackend(ModelBackend):
    """Django's model backend, refusing users whose employee record says departed.

    ``get_user`` (run for every request of a session) loads the user with their employee in one
    query, so the check adds no query to a request.
    """

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not is_departed(user)

    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("employee").get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

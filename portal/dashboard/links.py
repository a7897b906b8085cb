"""Links behind the dashboard's numbers: every number opens the (scoped, filtered) list behind it.

Findings and violations open the portal's own phone-sized lists (``views.findings_list`` /
``views.violations_list``); the other numbers the admin lists.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.urls import reverse

from groups.choices import FindingKind
from violations.choices import SanctionKind, ViolationStatus

from .sections import CONFIRMED_STATUSES, Area


class ListLinks:
    """Admin changelist URLs with the filters that reproduce a dashboard number.

    The admin lists are scoped by ``visible_to`` (ScopedAdminMixin) and their department filters by
    the visible departments, so a link can never show more than its viewer may see.
    """

    def __init__(self, area: Area, month: datetime.date):
        self.dept_id = area.single.pk if area.single else None
        self.month = month.strftime("%Y-%m")

    def _url(self, name: str, dept_param: str, dept_id: int | None = None, **params) -> str:
        dept_id = dept_id or self.dept_id
        if dept_id:
            params[dept_param] = dept_id
        query = urlencode(sorted(params.items()))
        return reverse(f"admin:{name}_changelist") + (f"?{query}" if query else "")

    def employees(self, dept_id=None, **params) -> str:
        return self._url("groups_employee", "dept", dept_id, **params)

    def groups(self, dept_id=None, **params) -> str:
        return self._url("groups_chatgroup", "dept", dept_id, **params)

    def memberships(self, dept_id=None, **params) -> str:
        return self._url("groups_membership", "group_department", dept_id, open="yes", **params)

    def _page(self, name: str, dept_id: int | None = None, **params) -> str:
        """A portal list page (phone-sized) with the dashboard's ``dept`` and the filters."""
        dept_id = dept_id or self.dept_id
        if dept_id:
            params["dept"] = dept_id
        query = urlencode(sorted(params.items()))
        return reverse(name) + (f"?{query}" if query else "")

    def findings(self, dept_id=None, **params) -> str:
        """Open findings: the portal's own list (``?kind=&age=``), not the admin changelist."""
        return self._page("dashboard_findings", dept_id, **params)

    def violations(self, dept_id=None, **params) -> str:
        """The month's violations: the portal's own list (``?status=a,b&sanction=``)."""
        return self._page("dashboard_violations", dept_id, month=self.month, **params)

    def appeals(self, dept_id=None, **params) -> str:
        return self._url(
            "violations_appeal", "violation_employee_department", dept_id, status__exact="pending", **params
        )

    def sanctions(self, dept_id=None, **params) -> str:
        return self._url("violations_sanction", "employee_department", dept_id, **params)


def status_in(*statuses: str) -> str:
    return ",".join(str(s) for s in statuses)


def attach_links(data: dict, area: Area, month: datetime.date) -> dict:
    """Add ``links`` to the built sections: one URL per number shown."""
    ll = ListLinks(area, month)
    data["links"] = {
        "employees_active": ll.employees(status__exact="active"),
        "employees_departed": ll.employees(status__exact="departed"),
        "groups_active": ll.groups(status__exact="active"),
        "departed_in_groups": ll.memberships(who="departed"),
        "outsiders_in_groups": ll.memberships(who="outsider"),
        "violations_total": ll.violations(),
        "violations_reported": ll.violations(status=ViolationStatus.REPORTED),
        "violations_confirmed": ll.violations(status=status_in(*CONFIRMED_STATUSES)),
        "violations_appealed": ll.violations(status=ViolationStatus.APPEALED),
        # every suspicion still waiting, not only the month's: ``month`` left out
        "violations_suspected": ll._page("dashboard_violations", status=ViolationStatus.SUSPECTED),
        "violations_dismissed": ll.violations(status=status_in(ViolationStatus.DISMISSED, ViolationStatus.OVERTURNED)),
        "fines": ll.violations(sanction=SanctionKind.FINE),
        "findings": ll.findings(),
        "findings_overdue_departed": ll.findings(kind=FindingKind.DEPARTED_MEMBER, age="1d"),
        "appeals": ll.appeals(),
        "appeals_overdue": ll.appeals(overdue="yes"),
        "removals": ll.sanctions(
            kind__exact=SanctionKind.REMOVAL, carried_out_at__isempty="1", withdrawn_at__isempty="1"
        ),
    }
    for kind in data["findings"]["kinds"]:
        kind["url"] = ll.findings(kind=kind["kind"])
    for row in data["subdepartments"]:
        dept_id = None if row["own"] else row["department"].pk
        row["links"] = None if row["own"] else {
            "employees": ll.employees(dept_id, status__exact="active"),
            "groups": ll.groups(dept_id, status__exact="active"),
            "departed_in_groups": ll.memberships(dept_id, who="departed"),
            "violations": ll.violations(dept_id),
            "fines": ll.violations(dept_id, sanction=SanctionKind.FINE),
            "findings": ll.findings(dept_id),
        }  # fmt: skip
    return data

"""HR's page to enter a year's State Council holiday schedule: paste, preview, store (HR only)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from portal.choices import Channel
from portal.scoping import require_hr

from . import services
from .calendar_notice import calendar_warning
from .models import HolidaySchedule
from .workdays import PACKAGE_YEARS, official_data_for


class HolidayScheduleForm(forms.Form):
    year = forms.IntegerField(label=gettext_lazy("年份"))
    text = forms.CharField(
        label=gettext_lazy("放假安排"),
        widget=forms.Textarea(attrs={"rows": 14}),
        max_length=20000,
        help_text=gettext_lazy(
            "粘贴国务院办公厅通知的原文,或每行一条:如“1月1日至3日放假”“2027-10-01 放假”“9月26日上班”。"
        ),
    )


def _default_year() -> int:
    this_year = timezone.localdate().year
    candidates = [y for y in range(this_year, this_year + 3) if not official_data_for(y)]
    return candidates[0] if candidates else this_year + 1


@login_required
@require_http_methods(["GET", "POST"])
def holiday_schedule(request):
    """录入法定放假安排: ``action=preview`` shows what will be stored; ``action=save`` stores it."""
    require_hr(request.user)
    form = HolidayScheduleForm(request.POST or None, initial={"year": _default_year()})
    preview = None
    if request.method == "POST" and form.is_valid():
        year, text = form.cleaned_data["year"], form.cleaned_data["text"]
        try:
            if request.POST.get("action") == "save":
                result = services.enter_holiday_schedule(year, text, acting_user=request.user, channel=Channel.ADMIN)
                messages.success(
                    request,
                    _("已录入%(y)s年放假安排:%(h)s天放假,%(w)s天调休上班;重新计算了%(a)s个申诉期限和%(d)s个裁决期限。")
                    % {
                        "y": result.schedule.year,
                        "h": len(result.parsed.holidays),
                        "w": len(result.parsed.workdays),
                        "a": len(result.appeal_deadlines),
                        "d": len(result.decision_dues),
                    },
                )
                return redirect("violations:holiday_schedule")
            preview = services.read_schedule(year, text)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    context = {
        "form": form,
        "preview": preview,
        "schedules": HolidaySchedule.objects.select_related("entered_by"),
        "package_years": PACKAGE_YEARS,
        "warning": calendar_warning(),
    }
    return render(request, "violations/holiday_schedule.html", context)

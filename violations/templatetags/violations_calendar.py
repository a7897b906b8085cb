"""{% calendar_banner %}: HR's warning that deadlines run on a year without the official schedule."""

from django import template

from portal.scoping import scope_for

from ..calendar_notice import calendar_warning

register = template.Library()


@register.inclusion_tag("violations/calendar_banner.html", takes_context=True)
def calendar_banner(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not scope_for(user).is_hr:
        return {"warning": None}
    return {"warning": calendar_warning()}

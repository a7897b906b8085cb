from django.conf import settings

from .scoping import scope_for


def roles(request):
    user = getattr(request, "user", None)
    return {"scope": scope_for(user), "company_name": settings.QUNGUI_COMPANY_NAME}

from django.conf import settings

from apps.core.navigation import navigation_for


def portal(request):
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "nav_items": navigation_for(user, request.path) if signed_in else [],
        "allow_signup": settings.ACCOUNT_ALLOW_SIGNUP,
    }

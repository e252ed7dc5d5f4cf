from django.conf import settings

from apps.core.navigation import navigation_for


def portal(request):
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    # Once a request (for whoever is signed in): a page that renders its panels as templates
    # of their own runs this for each of them.
    key = user.pk if signed_in and user is not None else None
    cached = getattr(request, "_portal_context", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    context = {
        "nav_items": navigation_for(user, request.path) if signed_in else [],
        "allow_signup": settings.ACCOUNT_ALLOW_SIGNUP,
    }
    request._portal_context = (key, context)
    return context

"""Mounts every app's API under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.audit.api.urls")),
    path("", include("apps.catalog.api.urls")),
    path("", include("apps.supplychain.api.urls")),
    path("", include("apps.releases.api.urls")),
    path("", include("apps.trains.api.urls")),
    path("", include("apps.rollouts.api.urls")),
    path("", include("apps.insights.api.urls")),
]

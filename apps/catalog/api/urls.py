from django.urls import include, path
from rest_framework.routers import SimpleRouter

from apps.catalog.api import views
from apps.catalog.api.environments import EnvironmentDetailView

router = SimpleRouter(trailing_slash=True)
router.register("services", views.ServiceViewSet, basename="service")
router.register("systems", views.SystemViewSet, basename="system")
router.register("templates", views.TemplateViewSet, basename="template")

urlpatterns = [
    path("", include("apps.catalog.api.backstage")),
    path(
        "services/<slug:name>/environments/<slug:environment>/",
        EnvironmentDetailView.as_view(),
        name="service-environment",
    ),
    *router.urls,
]

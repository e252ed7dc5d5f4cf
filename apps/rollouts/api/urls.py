from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.rollouts.api import views

router = SimpleRouter(trailing_slash=True)
router.register("rollouts", views.RolloutViewSet, basename="rollout")
router.register("clusters", views.ClusterViewSet, basename="cluster")

urlpatterns = [
    path(
        "services/<slug:service>/environments/<slug:environment>/rings/",
        views.EnvironmentRingsView.as_view(),
        name="environment-rings",
    ),
    *router.urls,
]

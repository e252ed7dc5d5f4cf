from rest_framework.routers import SimpleRouter

from apps.rollouts.api import views

router = SimpleRouter(trailing_slash=True)
router.register("rollouts", views.RolloutViewSet, basename="rollout")
router.register("clusters", views.ClusterViewSet, basename="cluster")

urlpatterns = router.urls

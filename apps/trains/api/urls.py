from rest_framework.routers import SimpleRouter

from apps.trains.api import views

router = SimpleRouter(trailing_slash=True)
router.register("trains", views.TrainViewSet, basename="train")

urlpatterns = router.urls

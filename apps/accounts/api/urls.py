from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.accounts.api import views

router = SimpleRouter()
router.register("teams", views.TeamViewSet, basename="team")
router.register("tokens", views.ApiTokenViewSet, basename="api-token")
router.register("service-accounts", views.ServiceAccountViewSet, basename="service-account")

urlpatterns = [path("me/", views.MeView.as_view(), name="api-me"), *router.urls]

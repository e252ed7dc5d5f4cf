from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.releases.api import evidence, views

router = SimpleRouter(trailing_slash=True)
router.register("releases", views.ReleaseViewSet, basename="release")
router.register("approval-policies", views.ApprovalPolicyViewSet, basename="approval-policy")
router.register("change-windows", views.ChangeWindowViewSet, basename="change-window")
router.register("freezes", views.FreezeViewSet, basename="freeze")

urlpatterns = [
    *router.urls,
    path("evidence-exports/", evidence.EvidenceExportView.as_view(), name="evidence-export"),
]

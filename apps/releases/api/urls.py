from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.releases.api import evidence, versions, views

router = SimpleRouter(trailing_slash=True)
router.register("releases", views.ReleaseViewSet, basename="release")
router.register("approval-policies", views.ApprovalPolicyViewSet, basename="approval-policy")
router.register("change-windows", views.ChangeWindowViewSet, basename="change-window")
router.register("freezes", views.FreezeViewSet, basename="freeze")

urlpatterns = [
    *router.urls,
    path("evidence-exports/", evidence.EvidenceExportView.as_view(), name="evidence-export"),
    path(
        "services/<slug:name>/versions/",
        versions.ServiceVersionsView.as_view(),
        name="service-versions",
    ),
    path(
        "services/<slug:name>/bad-versions/",
        versions.BadVersionCreateView.as_view(),
        name="service-bad-versions",
    ),
    path(
        "services/<slug:name>/environments/<slug:environment>/pin/",
        versions.PinCreateView.as_view(),
        name="environment-pin",
    ),
    path("version-pins/<int:pk>/lift/", versions.PinLiftView.as_view(), name="version-pin-lift"),
]

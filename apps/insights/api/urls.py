from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.insights.api import views

router = SimpleRouter(trailing_slash=True)
router.register("webhook-sources", views.WebhookSourceViewSet, basename="webhook-source")
router.register("events/unmatched", views.UnmatchedDeliveryViewSet, basename="unmatched-delivery")
router.register("scorecards/rules", views.ScorecardRuleViewSet, basename="scorecard-rule")
router.register("scorecards", views.ScorecardViewSet, basename="scorecard")

urlpatterns = [
    path(
        "events/deployments",
        views.DeploymentEventsView.as_view(),
        name="insights-deployment-events",
    ),
    path("events/incidents", views.IncidentEventsView.as_view(), name="insights-incident-events"),
    # Vendors' settings are typed by hand: a trailing slash reaches the same view (undocumented).
    path("events/deployments/", views.DeploymentEventsView.as_view(schema=None)),
    path("events/incidents/", views.IncidentEventsView.as_view(schema=None)),
    path("reports/dora", views.DoraReportView.as_view(), name="insights-dora-report"),
    *router.urls,
]

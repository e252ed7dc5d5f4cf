from apps.insights.views import reports, scorecards, webhooks

app_name = "insights"

urlpatterns = [*reports.urlpatterns, *scorecards.urlpatterns, *webhooks.urlpatterns]

from apps.insights.views import reports, scorecards

app_name = "insights"

urlpatterns = [*reports.urlpatterns, *scorecards.urlpatterns]

"""The calendar's routes, included by apps/releases/urls.py (namespace "releases") so they are
named releases:calendar, releases:feed-create, releases:feed-revoke and releases:ics. No
app_name here: these names belong to the releases namespace, not a nested one."""

from django.urls import path

from apps.releases.calendar import views

urlpatterns = [
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/feeds/", views.feed_create, name="feed-create"),
    path("calendar/feeds/<int:pk>/revoke/", views.feed_revoke, name="feed-revoke"),
    path("calendar/feeds/<str:token>.ics", views.feed_ics, name="ics"),
]

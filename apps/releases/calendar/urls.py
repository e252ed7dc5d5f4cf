"""The calendar's routes, included by apps/releases/urls.py (namespace "releases") so they are
named releases:calendar, releases:feed-create, releases:feed-revoke, releases:ics and those of
the pages that manage windows and freezes. No app_name here: these names belong to the releases
namespace, not a nested one."""

from django.urls import path

from apps.releases.calendar import manage_views, views

urlpatterns = [
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/filter-options/", views.filter_options, name="calendar-filter-options"),
    path("calendar/feeds/", views.feed_create, name="feed-create"),
    path("calendar/feeds/<int:pk>/revoke/", views.feed_revoke, name="feed-revoke"),
    path("calendar/feeds/<str:token>.ics", views.feed_ics, name="ics"),
    path("change-calendar/", manage_views.change_calendar, name="change-calendar"),
    path("change-calendar/windows/", manage_views.window_list, name="window-list"),
    path("change-calendar/windows/new/", manage_views.window_create, name="window-create"),
    path("change-calendar/windows/preview/", manage_views.window_preview, name="window-preview"),
    path("change-calendar/windows/<int:pk>/", manage_views.window_detail, name="window-detail"),
    path("change-calendar/windows/<int:pk>/edit/", manage_views.window_edit, name="window-edit"),
    path(
        "change-calendar/windows/<int:pk>/preview/",
        manage_views.window_preview,
        name="window-edit-preview",
    ),
    path(
        "change-calendar/windows/<int:pk>/deactivate/",
        manage_views.window_deactivate,
        name="window-deactivate",
    ),
    path(
        "change-calendar/windows/<int:pk>/reactivate/",
        manage_views.window_reactivate,
        name="window-reactivate",
    ),
    path(
        "change-calendar/windows/<int:pk>/delete/",
        manage_views.window_delete,
        name="window-delete",
    ),
    path("change-calendar/freezes/", manage_views.freeze_list, name="freeze-list"),
    path("change-calendar/freezes/new/", manage_views.freeze_create, name="freeze-create"),
    path("change-calendar/freezes/preview/", manage_views.freeze_preview, name="freeze-preview"),
    path("change-calendar/freezes/<int:pk>/", manage_views.freeze_detail, name="freeze-detail"),
    path("change-calendar/freezes/<int:pk>/edit/", manage_views.freeze_edit, name="freeze-edit"),
    path(
        "change-calendar/freezes/<int:pk>/preview/",
        manage_views.freeze_preview,
        name="freeze-edit-preview",
    ),
    path(
        "change-calendar/freezes/<int:pk>/end-now/",
        manage_views.freeze_end_now,
        name="freeze-end-now",
    ),
    path(
        "change-calendar/freezes/<int:pk>/extend/",
        manage_views.freeze_extend,
        name="freeze-extend",
    ),
    path(
        "change-calendar/freezes/<int:pk>/delete/",
        manage_views.freeze_delete,
        name="freeze-delete",
    ),
]

from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/time-zone/", views.time_zone_update, name="time-zone"),
    path("profile/aliases/", views.alias_add, name="alias-add"),
    path("profile/aliases/<int:pk>/remove/", views.alias_remove, name="alias-remove"),
    path("profile/tokens/", views.token_create, name="token-create"),
    path("profile/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("teams/", views.team_list, name="team-list"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/<slug:slug>/", views.team_detail, name="team-detail"),
    path("teams/<slug:slug>/edit/", views.team_edit, name="team-edit"),
    path("teams/<slug:slug>/members/", views.team_member_add, name="team-member-add"),
    path(
        "teams/<slug:slug>/members/<int:user_id>/remove/",
        views.team_member_remove,
        name="team-member-remove",
    ),
    path("people/", views.people, name="people"),
    path(
        "people/<int:user_id>/grant/",
        views.user_role_change,
        {"action": "grant"},
        name="user-role-grant",
    ),
    path(
        "people/<int:user_id>/revoke/",
        views.user_role_change,
        {"action": "revoke"},
        name="user-role-revoke",
    ),
]

from django.urls import path

from apps.supplychain import views

app_name = "supplychain"

urlpatterns = [
    path("", views.trust, name="trust"),
    path("keys/<int:pk>/revoke/", views.key_revoke, name="key-revoke"),
    path("policies/new/", views.policy_create, name="policy-create"),
    path("policies/<int:pk>/switch/", views.policy_switch, name="policy-switch"),
    path("artifacts/<str:digest>/", views.artifact, name="artifact"),
]

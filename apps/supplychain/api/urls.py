from django.urls import path

from apps.supplychain.api import views

urlpatterns = [
    path(
        "artifacts/<str:digest>/attestations/",
        views.AttestationsView.as_view(),
        name="artifact-attestations",
    ),
    path("trust/keys/", views.TrustedKeysView.as_view(), name="trusted-keys"),
    path(
        "trust/keys/<int:pk>/revoke/",
        views.TrustedKeyRevokeView.as_view(),
        name="trusted-key-revoke",
    ),
    path("trust/policies/", views.TrustPoliciesView.as_view(), name="trust-policies"),
    path("trust/policies/<int:pk>/", views.TrustPolicyView.as_view(), name="trust-policy"),
    path("trust/suppressions/", views.SuppressionsView.as_view(), name="trust-suppressions"),
]

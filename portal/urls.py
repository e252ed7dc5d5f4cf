from csp.decorators import csp_replace
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views

handler400 = "apps.core.views.suspicious_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("accounts/", include("allauth.urls")),
    path("", include("apps.accounts.urls")),
    path("audit/", include("apps.audit.urls")),
    path("onboard/", include("apps.onboarding.urls")),
    path("catalog/", include("apps.catalog.urls")),
    path("supply-chain/", include("apps.supplychain.urls")),
    path("releases/", include("apps.releases.urls")),
    path("trains/", include("apps.trains.urls")),
    path("rollouts/", include("apps.rollouts.urls")),
    path("reports/", include("apps.insights.urls")),
    path("admin/login/", core_views.admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's page carries a <style> element and sets styles as it draws: allowed there only.
    path(
        "api/docs/",
        csp_replace({"style-src": ["'self'", "'unsafe-inline'"]})(
            SpectacularSwaggerView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
]

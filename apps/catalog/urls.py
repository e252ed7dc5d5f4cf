from django.urls import include, path

from apps.catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.service_list, name="service-list"),
    path("services/<str:name>/", views.service_detail, name="service-detail"),
    path("services/<str:name>/edit/", views.service_edit, name="service-edit"),
    path("services/<str:name>/delete/", views.service_delete, name="service-delete"),
    path(
        "services/<str:name>/pipelines/<slug:kind>/",
        views.service_pipeline_download,
        name="service-pipeline",
    ),
    path(
        "services/<str:name>/environments/<str:environment>/edit/",
        views.environment_edit,
        name="environment-edit",
    ),
    path("", include("apps.catalog.backstage.urls")),
]

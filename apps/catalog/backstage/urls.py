"""Mounted by apps/catalog/urls.py under /catalog/ (app namespace "catalog")."""

from django.urls import path

from apps.catalog.backstage import views

urlpatterns = [path("import/", views.import_upload, name="import")]

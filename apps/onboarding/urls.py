from django.urls import path

from apps.onboarding import views

app_name = "onboarding"

urlpatterns = [
    path("", views.start, name="start"),
    path("steps/<slug:slug>/", views.step_show, name="step"),
    path("steps/<slug:slug>/submit/", views.step_submit, name="submit"),
    path("steps/<slug:slug>/redraw/", views.step_redraw, name="redraw"),
    path("steps/<slug:slug>/back/", views.step_back, name="back"),
    path("name-check/", views.name_check, name="name-check"),
    path("create/", views.create, name="create"),
    path("discard/", views.discard, name="discard"),
]

from django.urls import path

from apps.trains import views

app_name = "trains"

urlpatterns = [
    path("", views.train_list, name="list"),
    path("new/", views.train_create, name="create"),
    path("new/plan/", views.train_plan, name="plan"),
    path("<int:pk>/", views.train_detail, name="detail"),
    path("<int:pk>/evidence/", views.train_evidence, name="evidence"),
    path("<int:pk>/submit/", views.train_submit, name="submit"),
    path("<int:pk>/approve/", views.train_approve, name="approve"),
    path("<int:pk>/reject/", views.train_reject, name="reject"),
    path("<int:pk>/inbox/approve/", views.train_inbox_approve, name="inbox-approve"),
    path("<int:pk>/inbox/reject/", views.train_inbox_reject, name="inbox-reject"),
    path("<int:pk>/cancel/", views.train_cancel, name="cancel"),
    path("<int:pk>/start/", views.train_start, name="start"),
    path("<int:pk>/rollback/", views.train_rollback, name="rollback"),
    path("<int:pk>/promote/", views.train_promote, name="promote"),
]

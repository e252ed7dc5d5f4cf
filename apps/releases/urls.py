from django.urls import include, path

from apps.releases import views
from apps.releases.versions import views as version_views

app_name = "releases"

urlpatterns = [
    path("", views.release_list, name="list"),
    path("new/", views.release_create, name="create"),
    path("new/services/", views.release_form_services, name="form-services"),
    path("new/environments/", views.release_form_environments, name="form-environments"),
    path("inbox/", views.inbox, name="inbox"),
    path("evidence/", views.evidence_export, name="evidence-export"),
    path("inbox/retrospectives/", views.inbox_retrospectives, name="inbox-retrospectives"),
    path("inbox/<int:pk>/details/", views.inbox_details, name="inbox-details"),
    path("inbox/<int:pk>/approve/", views.inbox_approve, name="inbox-approve"),
    path("inbox/<int:pk>/reject/", views.inbox_reject, name="inbox-reject"),
    path("<int:pk>/", views.release_detail, name="detail"),
    path("<int:pk>/submit/", views.release_submit, name="submit"),
    path("<int:pk>/approve/", views.release_approve, name="approve"),
    path("<int:pk>/reject/", views.release_reject, name="reject"),
    path("<int:pk>/cancel/", views.release_cancel, name="cancel"),
    path("<int:pk>/promote/", views.release_promote, name="promote"),
    path("<int:pk>/break-glass/", views.release_break_glass, name="break-glass"),
    path("<int:pk>/evidence/", views.evidence, name="evidence"),
    path("versions/<slug:name>/bad/", version_views.mark_bad, name="version-mark-bad"),
    path("versions/<slug:name>/<slug:environment>/pin/", version_views.pin, name="environment-pin"),
    path("versions/pins/<int:pk>/lift/", version_views.lift, name="version-pin-lift"),
    path("", include("apps.releases.calendar.urls")),
]

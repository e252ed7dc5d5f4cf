from django.urls import path

from apps.rollouts import stream, views

app_name = "rollouts"

urlpatterns = [
    path("", views.rollout_list, name="list"),
    path("stream/", stream.rollouts_stream, name="list-stream"),
    path("trains/<int:pk>/stream/", stream.train_stream, name="train-stream"),
    path("start/<int:release_id>/", views.rollout_start, name="start"),
    path(
        "services/<slug:service>/environments/<slug:environment>/rings/",
        views.environment_rings,
        name="environment-rings",
    ),
    path("<int:pk>/", views.rollout_detail, name="detail"),
    path("<int:pk>/stream/", stream.rollout_stream, name="stream"),
    path("<int:pk>/pods/", views.rollout_pods, name="pods"),
    path("<int:pk>/promote/", views.rollout_promote, name="promote"),
    path("<int:pk>/pause/", views.rollout_pause, name="pause"),
    path("<int:pk>/resume/", views.rollout_resume, name="resume"),
    path("<int:pk>/abort/", views.rollout_abort, name="abort"),
    path("<int:pk>/rollback/", views.rollout_rollback, name="rollback"),
]

import pytest

from apps.audit.models import AuditEvent
from apps.catalog.models import Cluster, Strategy
from apps.releases import services as release_services
from apps.releases.models import ReleaseState
from apps.rollouts import plans
from apps.rollouts.models import Rollout, RolloutState, StepState
from tests.rollouts.builders import many_rollouts, rollout_row


@pytest.fixture
def as_user(api_client):
    def sign_in(user):
        api_client.force_authenticate(user)
        return api_client

    return sign_in


@pytest.fixture
def rollout(web, prod, developer):
    """Paused at its indefinite pause (step 3 of 6)."""
    return rollout_row(
        service=web,
        environment=prod,
        requester=developer,
        state=RolloutState.PAUSED,
        current_step=2,
    )


@pytest.fixture
def succeeded(web, prod, developer):
    return rollout_row(
        service=web, environment=prod, requester=developer, state=RolloutState.SUCCEEDED
    )


# --- Reading ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_keeps_a_fixed_query_count_with_50_rollouts(
    as_user, leadership, django_assert_num_queries
):
    many_rollouts(50, requester=leadership)
    client = as_user(leadership)
    with django_assert_num_queries(3):  # count, page, steps
        body = client.get("/api/v1/rollouts/").json()
    assert body["count"] == 50 and len(body["results"]) == 50
    first = body["results"][0]
    assert first["state"] == "running" and first["progress"] == 33
    assert first["environment"] == "prod" and first["service"].startswith("svc-")


@pytest.mark.django_db
def test_the_list_filters_like_the_page(as_user, developer):
    many_rollouts(20, requester=developer)
    client = as_user(developer)
    running = client.get("/api/v1/rollouts/", {"state": "running"}).json()["results"]
    assert sorted(r["service"] for r in running) == [f"svc-{n}" for n in range(5)]
    one = client.get("/api/v1/rollouts/", {"service": "svc-3", "environment": "prod"}).json()
    assert one["count"] == 4
    assert client.get("/api/v1/rollouts/", {"state": "nonsense"}).status_code == 400


@pytest.mark.django_db
def test_a_rollout_comes_with_its_steps_measurements_and_events(
    as_user, leadership, rollout, django_assert_num_queries
):
    rollout.steps.filter(index=3).update(
        results=[{"phase": "successful", "value": "HTTP 200", "at": "2030-01-01T10:00:00Z"}]
    )
    client = as_user(leadership)
    with django_assert_num_queries(4):  # rollout, steps, events, the reader's teams
        body = client.get(f"/api/v1/rollouts/{rollout.pk}/").json()
    assert body["state"] == "paused" and body["weight"] == 20 and body["release"]
    assert body["actions"] == []  # leadership reads, and steers nothing
    assert body["canary_pods"] == {"canary": 1, "stable": 5, "share": 17}
    assert [step["kind"] for step in body["steps"]][:3] == ["canary_start", "set_weight", "pause"]
    assert body["steps"][3]["results"][0]["value"] == "HTTP 200"
    assert [event["level"] for event in body["events"]] == ["info", "info", "warning"]


@pytest.mark.django_db
def test_reading_needs_a_sign_in(api_client, rollout):
    assert api_client.get("/api/v1/rollouts/").status_code in (401, 403)


# --- Starting --------------------------------------------------------------------------------


@pytest.fixture
def scheduled_dev_release(make_release, web, developer):
    """Approved without a policy and first in promotion order: every gate passes."""
    web.strategy = Strategy.CANARY
    web.strategy_params = {"steps": [{"set_weight": 25}, {"pause": {"seconds": 30}}]}
    web.save()
    release = release_services.release_submit(
        actor=developer, release=make_release(web.environments.get(name="dev"))
    )
    assert release.state == ReleaseState.SCHEDULED
    return release


@pytest.mark.django_db
def test_an_approved_release_starts_its_rollout_with_the_planned_steps(
    as_user, developer, scheduled_dev_release, web
):
    client = as_user(developer)
    response = client.post("/api/v1/rollouts/", {"release": scheduled_dev_release.pk})
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "running" and body["strategy"] == "canary"
    planned = plans.plan(web.strategy, web.strategy_params)
    assert [(s["kind"], s["params"]) for s in body["steps"]] == planned
    assert all(step["state"] == StepState.PENDING for step in body["steps"])
    scheduled_dev_release.refresh_from_db()
    assert scheduled_dev_release.state == ReleaseState.IN_PROGRESS
    assert AuditEvent.objects.filter(action="rollout.start", target_id=str(body["id"])).exists()

    again = client.post("/api/v1/rollouts/", {"release": scheduled_dev_release.pk})
    assert again.status_code == 409  # a release rolls out once
    assert again.json()["detail"] == (
        f"Release #{scheduled_dev_release.pk} has already started: rollout #{body['id']}."
    )


@pytest.mark.django_db
def test_leadership_cannot_start_a_rollout(as_user, leadership, scheduled_dev_release):
    response = as_user(leadership).post("/api/v1/rollouts/", {"release": scheduled_dev_release.pk})
    assert response.status_code == 403
    assert not Rollout.objects.exists()


@pytest.mark.django_db
def test_a_draft_release_does_not_start(as_user, developer, make_release, web):
    draft = make_release(web.environments.get(name="dev"))
    response = as_user(developer).post("/api/v1/rollouts/", {"release": draft.pk})
    assert response.status_code == 400
    assert "only approved releases roll out" in response.json()["detail"][0]


@pytest.mark.django_db
def test_starting_an_unknown_release_names_the_field(as_user, developer):
    response = as_user(developer).post("/api/v1/rollouts/", {"release": 999999})
    assert response.status_code == 400
    assert response.json() == {"release": ["No release has the id 999999."]}


# --- Steering --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_owning_team_steers_a_rollout(as_user, developer, rollout):
    client = as_user(developer)
    # Paused at a pause-until-promoted step: resuming would only pause again, so it is refused.
    assert client.post(f"/api/v1/rollouts/{rollout.pk}/resume/").status_code == 400
    body = client.post(f"/api/v1/rollouts/{rollout.pk}/promote/", {"full": False}).json()
    assert body["steps"][2]["state"] == "skipped" and body["steps"][3]["state"] == "pending"
    assert body["state"] == "running"
    assert client.post(f"/api/v1/rollouts/{rollout.pk}/pause/").json()["state"] == "paused"
    assert client.post(f"/api/v1/rollouts/{rollout.pk}/resume/").json()["state"] == "running"
    body = client.post(f"/api/v1/rollouts/{rollout.pk}/abort/", {"reason": "p99 up"}).json()
    assert body["state"] == "rolling_back" and body["failure_reason"] == "Aborted by dana: p99 up"
    actions = list(
        AuditEvent.objects.filter(target_id=str(rollout.pk))
        .order_by("id")
        .values_list("action", "after__state")
    )
    assert actions == [
        ("rollout.resume.refused", None),
        ("rollout.transition", "running"),
        ("rollout.promote", None),
        ("rollout.transition", "paused"),
        ("rollout.pause", "paused"),
        ("rollout.transition", "running"),
        ("rollout.resume", "running"),
        ("rollout.transition", "rolling_back"),
        ("rollout.abort", "rolling_back"),
    ]


@pytest.mark.django_db
def test_a_release_manager_promotes_fully(as_user, release_manager, rollout):
    body = as_user(release_manager).post(f"/api/v1/rollouts/{rollout.pk}/promote/", {"full": True})
    states = [step["state"] for step in body.json()["steps"]]
    assert states == ["succeeded", "succeeded", "skipped", "skipped", "skipped", "pending"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["leadership", "other_developer", "outsider"])
@pytest.mark.parametrize("action", ["promote", "pause", "resume", "abort"])
def test_only_the_owning_team_and_release_managers_steer(
    as_user, rollout, persona, action, request
):
    response = as_user(request.getfixturevalue(persona)).post(
        f"/api/v1/rollouts/{rollout.pk}/{action}/"
    )
    assert response.status_code == 403
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.PAUSED and rollout.manual_interventions == 0


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["promote", "pause", "resume", "abort"])
def test_a_finished_rollout_refuses_with_a_reason(as_user, developer, succeeded, action):
    response = as_user(developer).post(f"/api/v1/rollouts/{succeeded.pk}/{action}/")
    assert response.status_code == 400
    assert "A rollout that is succeeded cannot be" in response.json()["detail"][0]


@pytest.mark.django_db
def test_a_succeeded_rollout_rolls_back_as_a_new_rollout(as_user, developer, succeeded):
    response = as_user(developer).post(
        f"/api/v1/rollouts/{succeeded.pk}/rollback/", {"reason": "latency"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["is_rollback"] and body["rolls_back"] == succeeded.pk
    assert body["state"] == "rolling_back" and body["image"] == "registry/web:1.9.0"
    again = as_user(developer).post(f"/api/v1/rollouts/{succeeded.pk}/rollback/")
    assert again.status_code == 409  # one active rollout per environment


@pytest.mark.django_db
def test_an_overlong_reason_is_refused_by_name(as_user, developer, rollout):
    response = as_user(developer).post(
        f"/api/v1/rollouts/{rollout.pk}/abort/", {"reason": "x" * 501}
    )
    assert response.status_code == 400 and "reason" in response.json()


@pytest.mark.django_db
def test_an_unknown_rollout_is_a_404(as_user, developer):
    assert as_user(developer).post("/api/v1/rollouts/999999/pause/").status_code == 404


# --- Clusters --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_everybody_signed_in_reads_clusters(as_user, leadership):
    Cluster.objects.create(name="eu-1", description="Frankfurt")
    client = as_user(leadership)
    assert [c["name"] for c in client.get("/api/v1/clusters/").json()["results"]] == ["eu-1"]
    assert client.get("/api/v1/clusters/eu-1/").json()["description"] == "Frankfurt"


@pytest.mark.django_db
def test_a_platform_admin_changes_a_cluster_and_the_change_is_audited(as_user, platform_admin):
    Cluster.objects.create(name="eu-1")
    client = as_user(platform_admin)
    response = client.patch("/api/v1/clusters/eu-1/", {"description": "Frankfurt"})
    assert response.status_code == 200 and response.json()["description"] == "Frankfurt"
    event = AuditEvent.objects.get(action="cluster.update")
    assert (event.before["description"], event.after["description"]) == ("", "Frankfurt")
    client.patch("/api/v1/clusters/eu-1/", {"description": "Frankfurt"})
    assert AuditEvent.objects.filter(action="cluster.update").count() == 1  # no change, no event


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["developer", "release_manager", "leadership"])
def test_only_platform_admins_write_clusters(as_user, persona, request):
    Cluster.objects.create(name="eu-1")
    client = as_user(request.getfixturevalue(persona))
    assert client.post("/api/v1/clusters/", {"name": "us-1"}).status_code == 403
    assert client.patch("/api/v1/clusters/eu-1/", {"description": "x"}).status_code == 403
    assert not AuditEvent.objects.exists() and Cluster.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "EU_1"}, "name"),
        ({"name": "eu-1"}, "name"),  # taken
        ({"name": "us-1", "kubeconfig_path": "kube/us-1.yaml"}, "kubeconfig_path"),
        ({"name": "us-1", "kubeconfig_path": "/etc/us-1.yaml", "in_cluster": True}, "in_cluster"),
    ],
)
def test_a_bad_cluster_is_refused_naming_the_field(as_user, platform_admin, body, field):
    Cluster.objects.create(name="eu-1")
    response = as_user(platform_admin).post("/api/v1/clusters/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert Cluster.objects.count() == 1 and not AuditEvent.objects.exists()

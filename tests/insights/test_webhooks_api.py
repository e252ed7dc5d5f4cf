"""Deliveries over HTTP, with the vendors' real sample payloads (tests/fixtures/webhooks),
signed in the test with the source's secret."""

import json
import uuid
from datetime import UTC, datetime

import pytest

from apps.audit.models import AuditEvent
from apps.catalog.models import Environment, EnvironmentKind
from apps.insights import services
from apps.insights.models import (
    CommitFact,
    DeliveryStatus,
    DeploymentFact,
    IncidentFact,
    PipelineRun,
    PushedCommit,
    ServiceAlias,
    WebhookDelivery,
)
from tests.factories import ServiceFactory
from tests.insights.conftest import DEPLOYMENTS_URL, INCIDENTS_URL, sample, sign, utc

pytestmark = pytest.mark.django_db

DEPLOYMENT_STATUS = sample("github__deployment_status__created_success.json")
SAMPLE_SHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"


def nothing_stored():
    return (
        WebhookDelivery.objects.count()
        + DeploymentFact.objects.count()
        + IncidentFact.objects.count()
        + PushedCommit.objects.count()
    ) == 0


def github_failure_body() -> bytes:
    # GitHub publishes no deployment_status example with state `failure`: this one is the
    # success sample with its state (and status time) changed.
    payload = json.loads(DEPLOYMENT_STATUS)
    payload["deployment_status"]["state"] = "failure"
    payload["deployment_status"]["created_at"] = "2019-05-15T15:25:55Z"
    return json.dumps(payload).encode()


# --- GitHub -----------------------------------------------------------------------------------


def test_githubs_deployment_status_sample_is_recorded(post_github, hello_world):
    response = post_github("deployment_status", DEPLOYMENT_STATUS, delivery="d-1")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "recorded"
    fact = DeploymentFact.objects.get()
    assert fact.service == hello_world
    assert fact.external_id == "github.com/deployments/145988746"
    assert (fact.environment, fact.is_production) == ("production", True)
    assert fact.version == SAMPLE_SHA
    assert fact.result == "succeeded" and not fact.is_failure
    assert fact.started_at == utc(2019, 5, 15, 15, 20, 53)  # deployment.created_at
    assert fact.finished_at == utc(2019, 5, 15, 15, 20, 55)  # deployment_status.created_at
    # Only the head is known, without its time: no lead time until its push is seen.
    assert list(fact.commits.values_list("sha", "lead_time_seconds")) == [(SAMPLE_SHA, None)]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.delivery_id, delivery.event, delivery.deployment) == (
        "d-1",
        "deployment_status",
        fact,
    )
    assert delivery.payload["deployment"]["id"] == 145988746


def test_a_failure_built_from_the_sample_counts_as_failed(post_github, hello_world):
    assert post_github("deployment_status", github_failure_body()).status_code == 201
    fact = DeploymentFact.objects.get()
    assert fact.result == "failed" and fact.is_failure


def test_githubs_push_sample_keeps_commit_times_by_the_push_head(post_github, hello_world):
    response = post_github("push", sample("github__push__new-branch.json"))
    assert response.status_code == 201
    pushed = PushedCommit.objects.get()
    assert pushed.service == hello_world
    assert pushed.head_sha == pushed.sha == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert pushed.committed_at == utc(2019, 5, 15, 15, 19, 25)


def push_of_the_deployed_sha() -> bytes:
    # The push sample's head is another commit than the deployment sample's: this push is the
    # sample with its head (and commit id) set to the deployed sha, to show them meet.
    payload = json.loads(sample("github__push__new-branch.json"))
    payload["after"] = SAMPLE_SHA
    payload["commits"][0]["id"] = payload["head_commit"]["id"] = SAMPLE_SHA
    return json.dumps(payload).encode()


@pytest.mark.parametrize("push_first", [True, False])
def test_a_push_and_a_deployment_of_its_head_give_a_lead_time_in_either_order(
    post_github, hello_world, push_first
):
    deliveries = [("push", push_of_the_deployed_sha()), ("deployment_status", DEPLOYMENT_STATUS)]
    for event, body in deliveries if push_first else reversed(deliveries):
        assert post_github(event, body).status_code == 201
    commit = CommitFact.objects.get()
    # Committed 15:19:25, deployment finished 15:20:55: 90 seconds.
    assert (commit.sha, commit.lead_time_seconds) == (SAMPLE_SHA, 90)
    assert hello_world.deployment_rollups.get().lead_time_count == 1


def test_githubs_deployment_event_is_acknowledged_and_ignored(post_github, hello_world):
    response = post_github("deployment", sample("github__deployment__created.json"))
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.IGNORED
    assert delivery.subject == "github.com/deployments/145988746"
    assert delivery.payload == {}  # ignored deliveries keep no payload
    assert not DeploymentFact.objects.exists()


def test_a_ping_is_answered(post_github):
    response = post_github("ping", b'{"zen": "Keep it logically awesome."}')
    assert response.status_code == 202
    assert "Pong" in response.json()["detail"]


def test_a_form_encoded_github_delivery_is_read(post_github, hello_world):
    from urllib.parse import urlencode

    body = urlencode({"payload": DEPLOYMENT_STATUS.decode()}).encode()
    response = post_github(
        "deployment_status", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201, response.content
    assert DeploymentFact.objects.get().service == hello_world


def test_a_completed_workflow_run_is_a_pipeline_run(post_github, hello_world):
    # GitHub's workflow_run payload, reduced to the fields Runway reads (no sample is kept).
    body = json.dumps(
        {
            "action": "completed",
            "workflow_run": {
                "id": 30433642,
                "name": "Build",
                "head_branch": "main",
                "head_sha": SAMPLE_SHA,
                "run_attempt": 2,
                "conclusion": "failure",
                "run_started_at": "2025-01-10T09:00:00Z",
                "updated_at": "2025-01-10T09:07:30Z",
            },
            "repository": {"html_url": "https://github.com/Codertocat/Hello-World"},
        }
    ).encode()
    assert post_github("workflow_run", body).status_code == 201
    run = PipelineRun.objects.get()
    assert run.external_id == "github.com/runs/30433642/attempts/2"
    assert (run.status, run.duration_seconds, run.ref) == ("failed", 450, "main")


# --- Refusals ---------------------------------------------------------------------------------


def test_a_bad_signature_is_refused_and_nothing_is_stored(post_github, hello_world):
    response = post_github("deployment_status", DEPLOYMENT_STATUS, signature="sha256=" + "0" * 64)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown webhook source or bad signature."}
    assert nothing_stored()


def test_a_body_changed_after_signing_is_refused(post_github, hello_world, github_source):
    _, secret = github_source
    signature = f"sha256={sign(secret, DEPLOYMENT_STATUS)}"
    response = post_github("deployment_status", github_failure_body(), signature=signature)
    assert response.status_code == 401
    assert nothing_stored()


def test_an_unknown_or_missing_source_is_refused(client, hello_world):
    response = client.post(
        f"{DEPLOYMENTS_URL}?source=nope", data=b"{}", content_type="application/json"
    )
    assert response.status_code == 401
    response = client.post(DEPLOYMENTS_URL, data=b"{}", content_type="application/json")
    assert response.status_code == 400
    assert "source" in response.json()
    assert nothing_stored()


def test_a_deactivated_source_is_refused(post_github, github_source, platform_admin, hello_world):
    services.webhook_source_deactivate(actor=platform_admin, source=github_source[0])
    assert post_github("deployment_status", DEPLOYMENT_STATUS).status_code == 401
    assert nothing_stored()


def test_the_source_can_be_named_by_its_id(client, github_source, hello_world):
    source, secret = github_source
    response = client.post(
        f"{DEPLOYMENTS_URL}/?source={source.pk}",
        data=DEPLOYMENT_STATUS,
        content_type="application/json",
        headers={
            "X-GitHub-Event": "deployment_status",
            "X-Hub-Signature-256": f"sha256={sign(secret, DEPLOYMENT_STATUS)}",
        },
    )
    assert response.status_code == 201


def test_malformed_json_is_a_400_naming_the_problem(post_github):
    response = post_github("deployment_status", b'{"action": "created",\n "deployment": }')
    assert response.status_code == 400
    assert response.json() == {"detail": "Malformed JSON: Expecting value at line 2, column 16."}
    assert nothing_stored()


def test_a_missing_field_is_a_400_naming_its_path(post_github, hello_world):
    payload = json.loads(DEPLOYMENT_STATUS)
    del payload["deployment"]["sha"]
    response = post_github("deployment_status", json.dumps(payload).encode())
    assert response.status_code == 400
    assert response.json() == {"deployment.sha": ["This field is required."]}
    assert nothing_stored()


def test_a_repeated_delivery_is_stored_once(post_github, hello_world):
    first = post_github("deployment_status", DEPLOYMENT_STATUS, delivery="same-id")
    again = post_github("deployment_status", DEPLOYMENT_STATUS, delivery="same-id")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["status"] == "duplicate"
    assert again.json()["delivery"] == first.json()["delivery"]
    assert WebhookDelivery.objects.count() == DeploymentFact.objects.count() == 1


def test_a_new_delivery_of_the_same_deployment_updates_its_fact(post_github, hello_world):
    post_github("deployment_status", DEPLOYMENT_STATUS)
    post_github("deployment_status", github_failure_body())
    assert WebhookDelivery.objects.count() == 2
    fact = DeploymentFact.objects.get()
    assert fact.result == "failed"
    assert fact.finished_at == utc(2019, 5, 15, 15, 25, 55)


def test_pagerduty_sources_cannot_post_deployments(client, pagerduty_source):
    source, secret = pagerduty_source
    response = client.post(
        f"{DEPLOYMENTS_URL}?source={source.slug}",
        data=b"{}",
        content_type="application/json",
        headers={"X-PagerDuty-Signature": f"v1={sign(secret, b'{}')}"},
    )
    assert response.status_code == 400
    assert "/api/v1/events/incidents" in response.json()["source"][0]


# --- Unmatched repositories -------------------------------------------------------------------


def test_an_unknown_repository_waits_to_be_mapped_then_is_recorded(
    post_github, api_as, platform_admin, payments
):
    response = post_github("deployment_status", DEPLOYMENT_STATUS, delivery="early")
    assert response.status_code == 202
    assert response.json()["status"] == "unmatched"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.UNMATCHED
    assert delivery.match_key == "github.com/codertocat/hello-world"
    assert delivery.payload["deployment"]["sha"] == SAMPLE_SHA  # kept for recording later
    assert not DeploymentFact.objects.exists()

    api = api_as(platform_admin)
    listed = api.get("/api/v1/events/unmatched/").json()["results"]
    assert [(d["id"], d["match_key"], d["source"]) for d in listed] == [
        (delivery.pk, "github.com/codertocat/hello-world", "github-acme")
    ]
    assert api.get(f"/api/v1/events/unmatched/{delivery.pk}/").json()["payload"]["action"] == (
        "created"
    )
    # Someone created the service without its repository: the admin maps it by hand.
    service = ServiceFactory(name="greeter", owner=payments)
    Environment.objects.create(
        service=service, name="production", kind=EnvironmentKind.PRODUCTION, order=1, namespace="g"
    )
    mapped = api.post(f"/api/v1/events/unmatched/{delivery.pk}/map/", {"service": "greeter"})
    assert mapped.status_code == 200, mapped.content
    assert mapped.json() == {"recorded": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.mapped_by) == (DeliveryStatus.RECORDED, platform_admin)
    assert delivery.deployment.service == service
    assert api.get("/api/v1/events/unmatched/").json()["results"] == []
    event = AuditEvent.objects.get(action="webhook_delivery.map")
    assert event.actor == platform_admin and event.after["service"] == "greeter"

    # The repository is remembered: the next delivery from it is recorded by itself.
    assert ServiceAlias.objects.get().service == service
    assert post_github("deployment_status", github_failure_body()).status_code == 201


def test_mapping_records_the_others_waiting_with_the_same_repository(
    post_github, platform_admin, payments
):
    post_github("deployment_status", DEPLOYMENT_STATUS)
    post_github("deployment_status", github_failure_body())
    first, second = WebhookDelivery.objects.order_by("received_at", "pk")
    service = ServiceFactory(name="greeter", owner=payments)
    assert (
        services.unmatched_delivery_map(actor=platform_admin, delivery=first, service=service) == 2
    )
    second.refresh_from_db()
    assert second.status == DeliveryStatus.RECORDED
    # Both deliveries were of the same GitHub deployment: one fact, now failed.
    assert DeploymentFact.objects.get().result == "failed"


def test_only_platform_admins_see_and_map_unmatched_deliveries(
    post_github, api_as, developer, hello_world
):
    post_github("deployment_status", DEPLOYMENT_STATUS)
    api = api_as(developer)
    assert api.get("/api/v1/events/unmatched/").status_code == 403
    assert api.post("/api/v1/events/unmatched/1/map/", {"service": "x"}).status_code == 403


def test_a_map_to_an_unknown_service_names_the_field(post_github, api_as, platform_admin):
    post_github("deployment_status", DEPLOYMENT_STATUS)
    delivery = WebhookDelivery.objects.get()
    response = api_as(platform_admin).post(
        f"/api/v1/events/unmatched/{delivery.pk}/map/", {"service": "nope"}
    )
    assert response.status_code == 400
    assert "nope" in response.json()["service"][0]


def test_a_delivery_already_recorded_cannot_be_mapped(post_github, platform_admin, hello_world):
    from django.core.exceptions import ValidationError

    post_github("deployment_status", DEPLOYMENT_STATUS)
    with pytest.raises(ValidationError) as refused:
        services.unmatched_delivery_map(
            actor=platform_admin, delivery=WebhookDelivery.objects.get(), service=hello_world
        )
    assert "delivery" in refused.value.message_dict


def test_pushes_from_unknown_repositories_are_ignored_not_listed(post_github):
    assert post_github("push", sample("github__push__new-branch.json")).status_code == 202
    assert WebhookDelivery.objects.get().status == DeliveryStatus.IGNORED
    assert not PushedCommit.objects.exists()


def test_several_services_in_one_repository_wait_for_an_admin(post_github, payments):
    for name in ("greeter-web", "greeter-worker"):
        ServiceFactory(
            name=name, owner=payments, repository_url="https://github.com/Codertocat/Hello-World"
        )
    assert post_github("deployment_status", DEPLOYMENT_STATUS).status_code == 202
    assert "greeter-web, greeter-worker" in WebhookDelivery.objects.get().note


# --- GitLab -----------------------------------------------------------------------------------

GITLAB_DEPLOYMENT = sample("gitlab__deployment__success.json")


@pytest.fixture
def test_deployment_webhooks(payments):
    service = ServiceFactory(
        name="test-deployment-webhooks",
        owner=payments,
        repository_url="http://10.126.0.2:3000/root/test-deployment-webhooks.git",
    )
    Environment.objects.create(
        service=service, name="staging", kind=EnvironmentKind.STAGING, order=1, namespace="s"
    )
    return service


def test_gitlabs_deployment_sample_is_recorded(post_gitlab, test_deployment_webhooks):
    response = post_gitlab("Deployment Hook", GITLAB_DEPLOYMENT)
    assert response.status_code == 201, response.content
    fact = DeploymentFact.objects.get()
    assert fact.service == test_deployment_webhooks
    assert fact.external_id == "10.126.0.2:3000/deployments/15"
    assert (fact.environment, fact.is_production) == ("staging", False)
    assert fact.version == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    # `2021-04-28 21:50:00 +0200` is 19:50 UTC; no `running` delivery came, so it also started.
    assert fact.finished_at == fact.started_at == utc(2021, 4, 28, 19, 50)
    # No X-Gitlab-Event-UUID: the body's hash is the delivery id, so a retry is a duplicate.
    assert WebhookDelivery.objects.get().delivery_id.startswith("sha256:")
    assert post_gitlab("Deployment Hook", GITLAB_DEPLOYMENT).json()["status"] == "duplicate"


def test_gitlabs_running_delivery_gives_the_start(post_gitlab, test_deployment_webhooks):
    running = json.loads(GITLAB_DEPLOYMENT)
    running.update(status="running", status_changed_at="2021-04-28 21:45:30 +0200")
    response = post_gitlab("Deployment Hook", json.dumps(running).encode())
    assert response.status_code == 202
    assert post_gitlab("Deployment Hook", GITLAB_DEPLOYMENT).status_code == 201
    fact = DeploymentFact.objects.get()
    assert fact.started_at == utc(2021, 4, 28, 19, 45, 30)
    assert fact.finished_at == utc(2021, 4, 28, 19, 50)


def test_a_wrong_gitlab_token_is_refused(post_gitlab, test_deployment_webhooks):
    assert post_gitlab("Deployment Hook", GITLAB_DEPLOYMENT, token="guess").status_code == 401
    assert nothing_stored()


def test_a_gitlab_pipeline_is_a_pipeline_run(post_gitlab, test_deployment_webhooks):
    # GitLab's Pipeline Hook, reduced to the fields Runway reads (no sample is kept).
    body = json.dumps(
        {
            "object_kind": "pipeline",
            "object_attributes": {
                "id": 31,
                "ref": "master",
                "sha": "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
                "status": "success",
                "created_at": "2016-08-12 15:23:28 UTC",
                "finished_at": "2016-08-12 15:26:29 UTC",
                "duration": 63,
            },
            "project": {"web_url": "http://10.126.0.2:3000/root/test-deployment-webhooks"},
        }
    ).encode()
    assert post_gitlab("Pipeline Hook", body).status_code == 201
    run = PipelineRun.objects.get()
    assert (run.status, run.duration_seconds) == ("succeeded", 63)
    assert run.external_id == "10.126.0.2:3000/pipelines/31"


# --- PagerDuty --------------------------------------------------------------------------------

PAGERDUTY_TRIGGERED = sample("pagerduty__incident.triggered__v3_zulip-captured.json")


@pytest.fixture
def pig208(payments):
    service = ServiceFactory(name="pig208", owner=payments)
    Environment.objects.create(
        service=service, name="prod", kind=EnvironmentKind.PRODUCTION, order=1, namespace="p"
    )
    return service


def test_pagerdutys_sample_opens_an_incident(post_pagerduty, pig208):
    response = post_pagerduty(PAGERDUTY_TRIGGERED, webhook_id="wh-1")
    assert response.status_code == 201, response.content
    incident = IncidentFact.objects.get()
    assert incident.service == pig208
    assert incident.external_id == "pig208.pagerduty.com/incidents/PFQZPSY"
    assert incident.title == "Test Incident 3"
    assert incident.opened_at == datetime(2021, 6, 4, 13, 35, 29, 781000, tzinfo=UTC)
    assert incident.resolved_at is None and incident.deployment is None
    # X-Webhook-Id is stable across PagerDuty's retries.
    assert post_pagerduty(PAGERDUTY_TRIGGERED, webhook_id="wh-1").json()["status"] == "duplicate"
    assert IncidentFact.objects.count() == WebhookDelivery.objects.count() == 1


def test_pagerduty_resolving_gives_the_recovery_time(post_pagerduty, pig208, deploy):
    deploy(pig208, environment="prod", started=(2021, 6, 4, 13, 0), finished=(2021, 6, 4, 13, 10))
    post_pagerduty(PAGERDUTY_TRIGGERED)
    resolved = json.loads(PAGERDUTY_TRIGGERED)
    resolved["event"].update(event_type="incident.resolved", occurred_at="2021-06-04T14:05:29.781Z")
    assert post_pagerduty(json.dumps(resolved).encode()).status_code == 201
    incident = IncidentFact.objects.get()
    assert incident.recovery_seconds == 30 * 60  # 13:35:29.781 → 14:05:29.781
    # No cause named: the production deployment that started 35 minutes before it.
    assert incident.link == "inferred" and incident.deployment.is_failure


def test_pagerduty_signatures_during_rotation_accept_any_match(post_pagerduty, pig208):
    from tests.insights.conftest import sign as hmac_hex

    good = hmac_hex("pd-signing-secret-0123456789", PAGERDUTY_TRIGGERED)
    response = post_pagerduty(PAGERDUTY_TRIGGERED, signature=f"v1={'a' * 64},v1={good}")
    assert response.status_code == 201


def test_a_bad_pagerduty_signature_stores_nothing(post_pagerduty, pig208):
    assert post_pagerduty(PAGERDUTY_TRIGGERED, signature=f"v1={'a' * 64}").status_code == 401
    assert nothing_stored()


def test_an_unknown_pagerduty_service_waits_for_a_mapping(post_pagerduty, platform_admin, payments):
    assert post_pagerduty(PAGERDUTY_TRIGGERED).status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert (delivery.match_kind, delivery.match_key) == ("incident_service", "pig208")
    service = ServiceFactory(name="pig-api", owner=payments)
    services.unmatched_delivery_map(actor=platform_admin, delivery=delivery, service=service)
    assert IncidentFact.objects.get().service == service


def test_other_pagerduty_events_are_ignored(post_pagerduty, pig208):
    payload = json.loads(PAGERDUTY_TRIGGERED)
    payload["event"]["event_type"] = "incident.acknowledged"
    assert post_pagerduty(json.dumps(payload).encode()).status_code == 202
    assert not IncidentFact.objects.exists()


# --- Generic ----------------------------------------------------------------------------------


def generic_deployment(**changes) -> dict:
    return {
        "delivery_id": str(uuid.uuid4()),
        "id": "8812",
        "service": "checkout",
        "environment": "production",
        "version": "1.4.2",
        "status": "success",
        "started_at": "2025-01-10T09:00:00Z",
        "finished_at": "2025-01-10T09:04:00Z",
        "commits": [{"sha": "9f2c1e7", "timestamp": "2025-01-09T17:30:00+01:00"}],
        **changes,
    }


@pytest.fixture
def post_generic(client, generic_source):
    source, secret = generic_source

    def post(body: dict | bytes, *, url=DEPLOYMENTS_URL, bearer=None, hmac=True):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {bearer or secret}"}
        if hmac and bearer is None:
            headers = {"X-Runway-Signature-256": f"sha256={sign(secret, raw)}"}
        return client.post(
            f"{url}?source={source.slug}",
            data=raw,
            content_type="application/json",
            headers=headers,
        )

    return post


def test_a_generic_deployment_is_recorded_with_its_lead_time(post_generic, checkout):
    assert post_generic(generic_deployment()).status_code == 201
    fact = DeploymentFact.objects.get()
    assert (fact.source, fact.external_id) == ("generic", "deploy-bot/8812")
    # Committed 17:30 at +01:00 (16:30 UTC), finished 09:04 UTC the next day: 16h34m.
    assert fact.commits.get().lead_time_seconds == 16 * 3600 + 34 * 60


def test_a_generic_sender_may_use_its_secret_as_a_bearer_token(
    post_generic, generic_source, checkout
):
    _, secret = generic_source
    assert post_generic(generic_deployment(), bearer=secret).status_code == 201
    assert post_generic(generic_deployment(), bearer="wrong").status_code == 401


def test_a_generic_failure_then_its_rollback_update_one_deployment(post_generic, checkout):
    post_generic(generic_deployment(status="failure", finished_at="2025-01-10T09:10:00Z"))
    post_generic(generic_deployment(status="rolled_back", finished_at="2025-01-10T09:40:00Z"))
    fact = DeploymentFact.objects.get()
    assert fact.result == "rolled_back"
    assert fact.finished_at == utc(2025, 1, 10, 9, 10)
    assert fact.rolled_back_at == utc(2025, 1, 10, 9, 40)
    assert fact.recovery_seconds == 40 * 60  # rollback finished 09:40 - deployment started 09:00


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"service": "nope"}, "service"),
        ({"service": None}, "service"),
        ({"repository": "git@github.com:acme/checkout.git"}, "service"),  # both given
        ({"status": "exploded"}, "status"),
        ({"started_at": "2025-01-10T09:00:00"}, "started_at"),
        ({"finished_at": "2025-01-10T08:00:00Z"}, "finished_at"),
        ({"commits": [{"sha": "a"}, {"sha": "a"}]}, "commits"),
        ({"environment": ""}, "environment"),
    ],
)
def test_a_bad_generic_deployment_names_the_field_and_stores_nothing(
    post_generic, checkout, changes, field
):
    body = {k: v for k, v in generic_deployment(**changes).items() if v is not None}
    response = post_generic(body)
    assert response.status_code == 400
    assert field in response.json()
    assert nothing_stored()


def test_a_generic_deployment_may_name_its_repository(post_generic, checkout):
    body = generic_deployment(repository="git@github.com:ACME/checkout.git")
    del body["service"]
    assert post_generic(body).status_code == 201
    assert DeploymentFact.objects.get().service == checkout


def test_a_generic_incident_names_its_cause(post_generic, checkout, deploy):
    deploy(checkout, started=(2025, 1, 10, 9), finished=(2025, 1, 10, 9, 4), version="1.4.2")
    deploy(checkout, started=(2025, 1, 10, 11), finished=(2025, 1, 10, 11, 5), version="1.4.3")
    body = {
        "id": "INC-42",
        "service": "checkout",
        "title": "Checkout errors",
        "opened_at": "2025-01-10T12:00:00Z",
        "resolved_at": "2025-01-10T12:20:00Z",
        "caused_by_version": "1.4.2",
    }
    assert post_generic(body, url=INCIDENTS_URL).status_code == 201
    incident = IncidentFact.objects.get()
    assert (incident.deployment.version, incident.link) == ("1.4.2", "reported")
    assert incident.recovery_seconds == 20 * 60


def test_a_generic_incident_for_an_unknown_service_is_refused(post_generic):
    body = {"id": "INC-1", "service": "nope", "opened_at": "2025-01-10T12:00:00Z"}
    response = post_generic(body, url=INCIDENTS_URL)
    assert response.status_code == 400
    assert "nope" in response.json()["service"][0]
    assert nothing_stored()


def resolved_unseen(**data) -> bytes:
    """PagerDuty's sample turned into the resolve of an incident Runway never saw open."""
    payload = json.loads(PAGERDUTY_TRIGGERED)
    payload["event"].update(event_type="incident.resolved", occurred_at="2021-06-04T14:05:29.781Z")
    payload["event"]["data"].pop("created_at", None)  # the sample has none: as sent
    payload["event"]["data"].update(data)
    return json.dumps(payload).encode()


def test_an_incident_resolved_but_never_seen_open_counts_for_no_recovery_time(
    post_pagerduty, pig208, deploy, api_as, leadership
):
    deploy(pig208, environment="prod", started=(2021, 6, 4, 13, 0), finished=(2021, 6, 4, 13, 10))
    assert post_pagerduty(resolved_unseen()).status_code == 201
    incident = IncidentFact.objects.get()
    assert (incident.start_known, incident.recovery_seconds) == (False, None)
    assert incident.deployment is None  # no start: no deployment "before" it to blame
    report = api_as(leadership).get(
        "/api/v1/reports/dora?scope=service&name=pig208&from=2021-06-01&to=2021-06-30"
    )
    recovery = report.json()["recovery"]
    assert recovery["median_seconds"] is None and recovery["tier"] is None
    assert (recovery["incidents"], recovery["incidents_unknown_start"]) == (0, 1)


def test_a_start_sent_later_gives_the_incident_its_recovery_time(post_pagerduty, pig208):
    post_pagerduty(resolved_unseen())
    post_pagerduty(resolved_unseen(created_at="2021-06-04T13:35:29.781Z"))
    incident = IncidentFact.objects.get()
    assert (incident.start_known, incident.recovery_seconds) == (True, 30 * 60)


def test_a_correctly_signed_body_nested_100000_deep_is_a_400_and_stores_nothing(post_generic):
    response = post_generic(b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400
    assert "Nested more than 64 deep." in str(response.json())
    assert not DeploymentFact.objects.exists()


def test_a_nul_byte_in_a_signed_body_is_a_400_naming_the_field(post_generic):
    response = post_generic(generic_deployment(environment="prod\x00"))
    assert response.status_code == 400
    assert "environment" in str(response.json())
    assert not DeploymentFact.objects.exists()


def test_what_a_webhook_records_is_audited(post_generic, checkout, generic_source):
    post_generic(generic_deployment())
    (event,) = AuditEvent.objects.filter(action="webhook_delivery.record")
    assert event.actor_label == "runway"
    assert event.after["source"] == generic_source[0].slug
    assert "Deployment of checkout" in event.after["note"]

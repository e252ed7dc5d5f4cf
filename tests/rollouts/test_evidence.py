"""The rollout record in a release's evidence: the steps, what each analysis measured and
whether it passed, who steered the rollout (paused, resumed, promoted, aborted) and when, and
the rollout's own sealed audit events; on the page, in its JSON, the API and a period's ZIP.
And every hand on a rollout writes its audit row."""

import csv
import io
import json
import zipfile

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import audit_seal
from apps.catalog.models import Environment
from apps.rollouts import services
from apps.rollouts.models import AnalysisTemplate, RolloutState
from tests.factories import ServiceFactory
from tests.rollouts.builders import many_rollouts, rollout_row
from tests.rollouts.executing import drive, release_of

pytestmark = pytest.mark.django_db

VERIFIED = {
    "steps": [
        {"set_weight": 50},
        {"analysis": {"template": "success-rate"}},
        {"pause": {"seconds": 600}},
        {"set_weight": 100},
    ]
}


@pytest.fixture
def success_rate(cluster):
    return AnalysisTemplate.objects.create(
        name="success-rate",
        kind="prometheus",
        url=cluster.url + "/prometheus",
        query='runway_request_success_rate{namespace="{namespace}",deployment="{deployment}"}',
        success_condition="result >= 0.95",
        interval_seconds=0,
        count=2,
    )


@pytest.fixture
def shipped(cluster, success_rate, payments, developer, release_manager):
    """payments-web 2 to production: a verified canary that the release manager paused during
    its timed pause, the developer resumed, and the release manager promoted past the pause."""
    service = ServiceFactory(
        name="payments-web", owner=payments, strategy="canary", strategy_params=VERIFIED
    )
    Environment.objects.create(
        service=service, name="prod", kind="production", order=1, namespace="shop", replicas=2
    )
    drive(
        services.rollout_start(
            actor=developer, release=release_of(service, "web:1", env="prod", actor=developer)
        )
    )
    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "web:2", env="prod", actor=developer)
    )
    at_the_pause = lambda r: r.steps.get(kind="pause").started_at is not None  # noqa: E731
    rollout = drive(rollout, until=at_the_pause)
    services.rollout_pause(actor=release_manager, rollout=rollout)
    services.rollout_resume(actor=developer, rollout=rollout)
    services.rollout_promote(actor=release_manager, rollout=rollout)
    rollout = drive(rollout)
    assert rollout.state == RolloutState.SUCCEEDED
    audit_seal()  # as each commit's own sealing does outside a test's transaction
    return rollout


def test_the_evidence_json_holds_the_rollout_record(client_as, leadership, shipped):
    pack = (
        client_as(leadership)
        .get(f"/releases/{shipped.release_id}/evidence/", {"format": "json"})
        .json()
    )

    (record,) = pack["rollouts"]
    assert record["id"] == shipped.pk
    assert (record["strategy"], record["state"]) == ("canary", "succeeded")
    assert (record["image"], record["previous_image"]) == ("web:2", "web:1")
    kinds = [(step["kind"], step["state"]) for step in record["steps"]]
    assert kinds == [
        ("canary_start", "succeeded"),
        ("set_weight", "succeeded"),
        ("analysis", "succeeded"),
        ("pause", "skipped"),
        ("set_weight", "succeeded"),
        ("canary_promote", "succeeded"),
    ]
    analysis = record["steps"][2]
    assert analysis["analysis"]["success_condition"] == "result >= 0.95"
    assert "runway_request_success_rate" in analysis["analysis"]["measures"]
    assert [r["phase"] for r in analysis["results"]] == ["successful", "successful"]
    assert all(r["value"] and r["at"] for r in analysis["results"])
    steering = [(s["action"], s["by"], s["step"]) for s in record["steering"]]
    assert steering == [
        ("started", "dana", None),
        ("paused", "riley", 3),
        ("resumed", "dana", 3),
        ("promoted", "riley", None),
    ]
    assert all(s["at"] for s in record["steering"])
    actions = [event["action"] for event in record["audit_events"]]
    assert {"rollout.pause", "rollout.resume", "rollout.promote"} <= set(actions)
    assert all(len(event["seal"]["mac"]) == 64 for event in record["audit_events"])
    assert pack["audit_checkpoint"]["seq"] >= max(e["seal"]["seq"] for e in record["audit_events"])


def test_the_api_gives_the_same_rollout_record(api_as, client_as, leadership, shipped):
    api = api_as(leadership).get(f"/api/v1/releases/{shipped.release_id}/evidence/").json()
    page = (
        client_as(leadership)
        .get(f"/releases/{shipped.release_id}/evidence/", {"format": "json"})
        .json()
    )
    assert api["rollouts"] == page["rollouts"]


def test_the_evidence_page_reads_the_rollout_record_in_words(client_as, leadership, shipped):
    leadership.time_zone = "Asia/Kolkata"
    leadership.save(update_fields=["time_zone"])
    page = client_as(leadership).get(f"/releases/{shipped.release_id}/evidence/").content.decode()

    assert 'data-evidence-section="rollouts"' in page
    assert f"Rollout #{shipped.pk}: canary, succeeded" in page
    assert "Analysis <code>success-rate</code>" in page
    assert "passes when result &gt;= 0.95" in page
    assert page.count("<li>Successful: 0.995 ") == 2  # each measurement, in words
    paused = shipped.steps.get(kind="pause")
    assert "Skipped" in page and paused.message in page
    assert "Paused by riley at step 4" in page and "Resumed by dana at step 4" in page
    assert "Promoted by riley" in page
    assert "IST" in page and "+00:00" not in page  # the viewer's time zone, no raw instants
    assert "<code>rollout.pause</code>" in page


def test_a_periods_zip_carries_each_rollout_record_and_the_index_says_who_steered(
    client_as, leadership, shipped
):
    day = timezone.localdate(shipped.release.planned_start)
    period = {"start": day.isoformat(), "end": day.isoformat()}
    response = client_as(leadership).get("/api/v1/evidence-exports/", period)

    archive = zipfile.ZipFile(io.BytesIO(response.content))
    pack = json.loads(archive.read(f"releases/release-{shipped.release_id}.json"))
    assert pack["rollouts"][0]["steering"][1]["action"] == "paused"
    index = {
        row["release"]: row
        for row in csv.DictReader(io.StringIO(archive.read("index.csv").decode()))
    }
    assert index[str(shipped.release_id)]["rollouts"] == (
        f"#{shipped.pk} canary: succeeded (paused by riley, resumed by dana, promoted by riley)"
    )
    assert "rollouts (rollouts)" in archive.read("README.txt").decode()


def test_an_aborted_rollout_says_who_aborted_it_and_why(
    client_as, leadership, developer, release_manager, web, prod
):
    rollout = rollout_row(service=web, environment=prod, requester=developer)
    services.rollout_abort(actor=release_manager, rollout=rollout, reason="latency up")

    pack = (
        client_as(leadership)
        .get(f"/releases/{rollout.release_id}/evidence/", {"format": "json"})
        .json()
    )
    (record,) = pack["rollouts"]
    assert record["state"] == RolloutState.ROLLING_BACK
    assert record["steering"][-1] | {"at": None} == {
        "action": "aborted",
        "by": "riley",
        "at": None,
        "reason": "latency up",
        "step": 2,
    }
    assert "Aborted by riley" in record["failure_reason"]


def test_a_release_not_rolled_out_says_so(client_as, leadership, make_release):
    release = make_release()
    pack = client_as(leadership).get(f"/releases/{release.pk}/evidence/", {"format": "json"}).json()
    assert pack["rollouts"] == []
    page = client_as(leadership).get(f"/releases/{release.pk}/evidence/").content.decode()
    assert "Not rolled out." in page


def test_the_periods_export_reads_rollouts_in_a_fixed_number_of_queries(
    client_as, leadership, developer
):
    client = client_as(leadership)
    today = timezone.localdate().isoformat()

    def queries() -> int:
        audit_seal()
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/releases/evidence/", {"start": today, "end": today})
        assert response.status_code == 200
        return len(captured)

    first = many_rollouts(2, requester=developer, services=2)
    few = queries()
    for rollout in first:
        for number in range(5):
            rollout_row(
                service=rollout.service,
                environment=rollout.environment,
                requester=developer,
                state=RolloutState.SUCCEEDED,
                version=f"registry/{rollout.service.name}:more-{number}",
            )
    assert queries() == few  # twelve releases and rollouts now, not two


# --- Audit rows of each hand on a rollout ----------------------------------------------------


def test_pausing_writes_its_audit_row_with_who_and_the_state_before_and_after(
    developer, release_manager, web, prod
):
    rollout = rollout_row(service=web, environment=prod, requester=developer)
    services.rollout_pause(actor=release_manager, rollout=rollout)

    event = AuditEvent.objects.get(action="rollout.pause")
    assert event.actor == release_manager and event.target_id == str(rollout.pk)
    assert (event.before, event.after) == ({"state": "running"}, {"state": "paused", "step": 2})


def test_resuming_writes_its_audit_row(developer, web, prod):
    rollout = rollout_row(
        service=web, environment=prod, requester=developer, state=RolloutState.PAUSED
    )
    rollout.steps.filter(index=2).update(kind="set_weight", params={"weight": 30})
    services.rollout_resume(actor=developer, rollout=rollout)

    event = AuditEvent.objects.get(action="rollout.resume")
    assert event.actor == developer
    assert (event.before, event.after) == ({"state": "paused"}, {"state": "running", "step": 2})


def test_aborting_writes_its_audit_row_with_the_reason(developer, release_manager, web, prod):
    rollout = rollout_row(service=web, environment=prod, requester=developer)
    services.rollout_abort(actor=release_manager, rollout=rollout, reason="latency up")

    event = AuditEvent.objects.get(action="rollout.abort")
    assert event.actor == release_manager
    assert event.before == {"state": "running"}
    assert event.after == {"state": "rolling_back", "step": 2, "reason": "latency up"}


def test_a_refused_pause_writes_no_pause_row_but_its_refusal(other_developer, developer, web, prod):
    rollout = rollout_row(service=web, environment=prod, requester=developer)
    with pytest.raises(PermissionDenied):
        services.rollout_pause(actor=other_developer, rollout=rollout)
    assert not AuditEvent.objects.filter(action="rollout.pause").exists()
    assert AuditEvent.objects.filter(action="rollout.pause.refused", actor=other_developer).exists()

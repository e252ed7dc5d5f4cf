"""The held-versions API: same rules as the services, errors naming the field, a bounded
number of queries however many environments and marks a service has."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog.models import Environment, EnvironmentKind
from apps.releases.models import Release, ReleaseState, VersionPin
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

REASON = "Writes refunds twice to the ledger"


def test_a_developer_marks_a_version_bad_and_pins_prod_and_everybody_reads_it(
    api_as, developer, leadership, make_release, web
):
    staging = web.environments.get(name="staging")
    staging.soak_seconds = 3600
    staging.save()
    done = make_release(staging, version="web:1.4.0", hours_from_now=-3)
    finished = timezone.now() - timedelta(minutes=20)
    Release.objects.filter(pk=done.pk).update(state=ReleaseState.SUCCEEDED, finished_at=finished)

    as_dev = api_as(developer)
    marked = as_dev.post(
        "/api/v1/services/web/bad-versions/", {"version": "web:1.4.0", "reason": REASON}
    )
    assert marked.status_code == 201, marked.json()
    assert marked.json()["marked_by"] == "dana"
    pinned = as_dev.post(
        "/api/v1/services/web/environments/prod/pin/", {"version": "web:1.3.9", "reason": REASON}
    )
    assert pinned.status_code == 201, pinned.json()
    assert pinned.json()["actions"] == ["lift"]

    read = api_as(leadership).get("/api/v1/services/web/versions/").json()
    rows = {row["environment"]: row for row in read["environments"]}
    assert rows["staging"]["running"] == "web:1.4.0"
    assert rows["staging"]["running_is_bad"] is True
    soaked_at = rows["staging"]["soaked_at"]
    assert soaked_at.startswith((finished + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    assert rows["prod"]["pin"]["version"] == "web:1.3.9"
    assert rows["prod"]["pin"]["actions"] == []  # leadership reads, and may not lift it
    assert [bad["version"] for bad in read["bad_versions"]] == ["web:1.4.0"]

    pin_id = pinned.json()["id"]
    refused = api_as(leadership).post(f"/api/v1/version-pins/{pin_id}/lift/", {})
    assert refused.status_code == 403  # before the missing reason: who comes first
    as_dev = api_as(developer)
    no_reason = as_dev.post(f"/api/v1/version-pins/{pin_id}/lift/", {"reason": "ok"})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    lifted = as_dev.post(f"/api/v1/version-pins/{pin_id}/lift/", {"reason": "Fixed in 1.5.0"})
    assert lifted.status_code == 200 and lifted.json()["actions"] == []
    assert not VersionPin.objects.filter(lifted_at__isnull=True).exists()


def test_refusals_name_their_field_and_say_who_may(api_as, developer, other_developer, web):
    as_dev = api_as(developer)
    body = {"version": "web:1.4.0", "reason": REASON}
    assert as_dev.post("/api/v1/services/web/bad-versions/", body).status_code == 201
    twice = as_dev.post("/api/v1/services/web/bad-versions/", body)
    assert twice.status_code == 409 and "already marked bad" in str(twice.json()), twice.json()
    pin_bad = as_dev.post("/api/v1/services/web/environments/prod/pin/", body)
    assert pin_bad.status_code == 400 and "marked bad" in str(pin_bad.json()["version"])
    nul = as_dev.post(
        "/api/v1/services/web/bad-versions/", {"version": "web:\x00", "reason": REASON}
    )
    assert nul.status_code == 400 and "version" in nul.json()
    stranger = api_as(other_developer)
    assert stranger.post("/api/v1/services/web/bad-versions/", {}).status_code == 403
    assert stranger.post("/api/v1/services/web/environments/prod/pin/", {}).status_code == 403
    assert as_dev.post("/api/v1/services/web/environments/nope/pin/", body).status_code == 404
    assert as_dev.get("/api/v1/services/nope/versions/").status_code == 404


def test_reading_versions_takes_the_same_queries_for_many_environments_and_marks(
    api_as, developer, payments, django_assert_max_num_queries
):
    service = ServiceFactory(name="wide", owner=payments)
    for order in range(1, 13):
        environment = Environment.objects.create(
            service=service,
            name=f"env{order}",
            kind=EnvironmentKind.STAGING,
            order=order,
            namespace=f"ns{order}",
        )
        VersionPin.objects.create(
            environment=environment, version=f"v{order}", reason=REASON, pinned_by=developer
        )
    client = api_as(developer)
    for index in range(20):
        client.post(
            "/api/v1/services/wide/bad-versions/", {"version": f"v{index}", "reason": REASON}
        )
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/services/wide/versions/")
    assert len(response.json()["environments"]) == 12
    assert len(response.json()["bad_versions"]) == 20

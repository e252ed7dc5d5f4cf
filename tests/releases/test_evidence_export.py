"""A period's evidence as one ZIP: production releases of a team or the organisation, each
with its evidence pack, and a CSV index; bounded and refused by field when asked too much."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from apps.audit.services import audit_seal
from apps.releases import evidence_export, services
from apps.releases.models import ReleaseState, StandardChangeTemplate
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

PAGE = "/releases/evidence/"
API = "/api/v1/evidence-exports/"
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


def in_march(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def march(make_release, web, search, developer, platform_admin):
    """Three production releases of web (payments) in March, one to staging, one in April,
    and one production release of another team's service."""
    staging = web.environments.get(name="staging")
    normal = make_release(planned_start=in_march(3), planned_end=in_march(3, 11), title="One")
    template = StandardChangeTemplate.objects.create(name="Config tweak")
    standard = make_release(
        planned_start=in_march(10),
        planned_end=in_march(10, 11),
        title="Two",
        change_type="standard",
        standard_template=template,
    )
    services.release_submit(actor=developer, release=standard)
    make_release(planned_start=in_march(20), planned_end=in_march(20, 11), title="Three")
    make_release(staging, planned_start=in_march(5), planned_end=in_march(5, 11))
    make_release(
        planned_start=datetime(2026, 4, 2, 10, tzinfo=UTC),
        planned_end=datetime(2026, 4, 2, 11, tzinfo=UTC),
    )
    theirs = ServiceFactory(name="finder", owner=search)
    theirs.environments.create(name="prod", kind="production", order=1, namespace="finder")
    services.release_create(
        actor=platform_admin,
        service=theirs,
        environment=theirs.environments.get(),
        version="registry/finder:2",
        title="Theirs",
        planned_start=in_march(4),
        planned_end=in_march(4, 11),
    )
    return normal, standard


def unzip(response) -> tuple[zipfile.ZipFile, list[dict]]:
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    index = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode())))
    return archive, index


def test_a_teams_production_releases_of_the_period_with_their_packs_and_an_index(
    client_as, leadership, march, payments
):
    normal, standard = march
    response = client_as(leadership).get(PAGE, {**MARCH, "team": payments.slug})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "runway-evidence-payments-20260301-20260331.zip" in response["Content-Disposition"]
    archive, index = unzip(response)
    assert [row["release"] for row in index] == [
        str(normal.pk),
        str(standard.pk),
        str(normal.pk + 2),
    ]
    assert {row["team"] for row in index} == {"payments"}
    row = next(row for row in index if row["release"] == str(standard.pk))
    assert row["approved by"] == "No approval needed (standard change)"
    assert row["state"] == ReleaseState(standard.refresh_from_db() or standard.state).label
    pack = json.loads(archive.read(row["evidence file"]))
    assert pack["release"]["id"] == standard.pk
    actions = [event["action"] for event in pack["audit_events"]]
    assert "release.create" in actions and "release.transition" in actions
    assert all(event["seal"] for event in pack["audit_events"])
    assert pack["audit_checkpoint"]["seq"] >= max(e["seal"]["seq"] for e in pack["audit_events"])
    assert "gates_now" not in pack  # the export keeps what was, not what would be now
    assert "README.txt" in archive.namelist()


def test_the_organisations_export_holds_every_team(client_as, leadership, march):
    _, index = unzip(client_as(leadership).get(PAGE, MARCH))
    assert {row["team"] for row in index} == {"payments", "search"}
    assert len(index) == 4


@pytest.mark.parametrize(
    ("period", "field", "says"),
    [
        ({"start": "2026-03-31", "end": "2026-03-01"}, "end", "The end is before the start."),
        ({"start": "2025-01-01", "end": "2026-03-01"}, "end", "at most 366 days"),
        ({"start": "9999-12-31", "end": "10000-01-01"}, "end", "Enter a valid date."),
        ({"start": "2026-03-01"}, "end", "This field is required."),
        ({**MARCH, "team": "nobody"}, "team", "Select a valid choice"),
    ],
)
def test_a_bad_period_is_refused_naming_the_field(
    client_as, api_as, leadership, period, field, says
):
    page = client_as(leadership).get(PAGE, period)
    assert page.status_code == 400
    assert says in page.content.decode()
    api = api_as(leadership).get(API, period)
    assert api.status_code == 400
    assert field in api.json()


def test_too_many_releases_are_refused_and_exported_in_parts(
    client_as, leadership, march, monkeypatch
):
    monkeypatch.setattr(evidence_export, "MAX_RELEASES", 3)
    refused = client_as(leadership).get(PAGE, MARCH)
    assert refused.status_code == 400
    assert "More than 3 releases in this period" in refused.content.decode()
    _, index = unzip(client_as(leadership).get(PAGE, {"start": "2026-03-01", "end": "2026-03-09"}))
    assert len(index) == 2


def test_the_api_gives_the_same_zip_to_anyone_signed_in_and_nobody_else(
    api_client, api_as, developer, march
):
    assert api_client.get(API, MARCH).status_code in (401, 403)
    response = api_as(developer).get(API, MARCH)
    assert response.status_code == 200
    _, index = unzip(response)
    assert len(index) == 4


def test_the_export_reads_a_fixed_number_of_queries_however_many_releases(
    client_as, leadership, make_release, django_assert_max_num_queries
):
    for day in range(1, 29):
        make_release(planned_start=in_march(day), planned_end=in_march(day, 11), title=f"R{day}")
    audit_seal()  # as the commits' own sealing does outside a test's transaction
    client = client_as(leadership)
    with django_assert_max_num_queries(20):
        response = client.get(PAGE, MARCH)
    _, index = unzip(response)
    assert len(index) == 28

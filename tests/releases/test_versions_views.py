"""The Versions panel on a service's page: what runs where, and the forms of those who may hold
versions, refusals shown next to the form that caused them."""

import pytest

from apps.audit.models import AuditEvent
from apps.releases.models import BadVersion, Release, ReleaseState, VersionPin
from apps.releases.versions.selectors import service_versions
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

REASON = "Writes refunds twice to the ledger"
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_service_page_shows_what_runs_where_flags_a_bad_version_and_offers_forms(
    client_as, developer, leadership, make_release, web
):
    dev = web.environments.get(name="dev")
    shipped = make_release(dev, version="web:1.4.0", hours_from_now=-3)
    Release.objects.filter(pk=shipped.pk).update(
        state=ReleaseState.SUCCEEDED, finished_at=shipped.planned_end
    )
    client = client_as(developer)
    client.post("/releases/versions/web/bad/", {"bad-version": "web:1.4.0", "bad-reason": REASON})

    page = client.get("/catalog/services/web/").content.decode()
    panel = page[page.index('id="versions-panel"') :]
    assert "Marked bad" in panel and REASON in panel
    assert "Pin prod" in panel and "Mark a version bad" in panel

    read_only = client_as(leadership).get("/catalog/services/web/").content.decode()
    assert 'id="versions-panel"' in read_only
    assert "Pin prod" not in read_only and "Mark a version bad" not in read_only


def test_a_refusal_shows_next_to_its_form_and_changes_nothing(client_as, developer, web):
    response = client_as(developer).post(
        "/releases/versions/web/prod/pin/",
        {"pin-prod-version": "web:2", "pin-prod-reason": "x"},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.startswith('<div id="versions-panel">')
    assert "Say why, in 10 characters or more" in body
    assert 'value="web:2"' in body  # what was typed is kept
    assert not VersionPin.objects.exists()


def test_a_developer_pins_and_lifts_from_the_page_and_leadership_is_refused(
    client_as, developer, leadership, web
):
    refused = client_as(leadership).post(
        "/releases/versions/web/prod/pin/", {"pin-prod-version": "web:2", "pin-prod-reason": REASON}
    )
    assert refused.status_code == 403
    assert (
        client_as(leadership)
        .post("/releases/versions/web/bad/", {"bad-version": "web:2", "bad-reason": REASON})
        .status_code
        == 403
    )

    client = client_as(developer)
    pinned = client.post(
        "/releases/versions/web/prod/pin/",
        {"pin-prod-version": "web:2", "pin-prod-reason": REASON},
        **HTMX,
    )
    assert "Lift the pin" in pinned.content.decode()
    pin = VersionPin.objects.get()
    assert (
        client_as(leadership)
        .post(f"/releases/versions/pins/{pin.pk}/lift/", {f"lift-{pin.pk}-reason": REASON})
        .status_code
        == 403
    )
    lifted = client_as(developer).post(
        f"/releases/versions/pins/{pin.pk}/lift/", {f"lift-{pin.pk}-reason": "Fixed in web:3"}
    )
    assert lifted.status_code == 302 and lifted["Location"] == "/catalog/services/web/"
    pin.refresh_from_db()
    assert pin.lift_reason == "Fixed in web:3"
    assert list(
        AuditEvent.objects.filter(action__startswith="version.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["version.pin", "version.unpin"]
    assert not BadVersion.objects.exists()


# The environments' read says whether anything holds a version: the reads of pins and marks are
# skipped while nothing does, and made when something does.


def test_reading_the_versions_of_a_service_nothing_holds_takes_one_query(
    web, django_assert_num_queries
):
    with django_assert_num_queries(1):
        versions = service_versions(web)
    assert [row.environment.name for row in versions.environments] == ["dev", "staging", "prod"]
    assert versions.bad_versions == [] and all(row.pin is None for row in versions.environments)


def test_the_service_page_shows_a_pin_in_force_and_its_lift_form(client_as, developer, web):
    prod = web.environments.get(name="prod")
    VersionPin.objects.create(environment=prod, version="web:2", reason=REASON, pinned_by=developer)

    page = client_as(developer).get("/catalog/services/web/").content.decode()
    panel = page[page.index('id="versions-panel"') :]
    assert "Pinned" in panel and REASON in panel and "Lift the pin" in panel
    row = next(row for row in service_versions(web).environments if row.pin is not None)
    assert row.environment.name == "prod" and row.pin.environment is row.environment


def test_a_version_marked_bad_shows_for_a_service_without_environments(developer, payments):
    lone = ServiceFactory(name="lone", owner=payments)
    bad = BadVersion.objects.create(
        service=lone, version="lone:1", reason=REASON, marked_by=developer
    )
    versions = service_versions(lone)
    assert versions.environments == [] and versions.bad_versions == [bad]

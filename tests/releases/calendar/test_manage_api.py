"""The API for windows and freezes: PATCH, DELETE and a freeze's end-now, with the services' rules
and errors; a 403 before any look at the body for those who may not."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.releases.calendar import services
from apps.releases.models import WindowScope
from apps.releases.windows import when_allowed

pytestmark = pytest.mark.django_db


def window_url(window, suffix="") -> str:
    return f"/api/v1/change-windows/{window.pk}/{suffix}"


def freeze_url(freeze, suffix="") -> str:
    return f"/api/v1/freezes/{freeze.pk}/{suffix}"


# --- Windows -------------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(api_as, release_manager, window):
    response = api_as(release_manager).patch(
        window_url(window), {"duration_minutes": 120, "name": "Fridays"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["name"], body["duration_minutes"], body["rrule"]) == (
        "Fridays",
        120,
        "FREQ=WEEKLY;BYDAY=FR",
    )
    assert body["starts_at_local"] == "2026-01-02T14:00:00"
    assert set(body["actions"]) == {"edit", "deactivate", "delete"}
    (row,) = AuditEvent.objects.filter(action="change_window.update")
    assert row.after == {"name": "Fridays", "duration_minutes": 120}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rrule": "FREQ=SECONDLY"}, "rrule"),
        ({"time_zone": "America"}, "time_zone"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"duration_minutes": 50000}, "duration_minutes"),
        ({"starts_at_local": "1999-01-01T09:00:00"}, "starts_at_local"),
        ({"scope": "service"}, "service"),
        ({"team": "ghosts"}, "team"),
        ({"kind": "maybe"}, "kind"),
    ],
)
def test_a_bad_patch_is_a_400_naming_the_field(api_as, release_manager, window, body, field):
    response = api_as(release_manager).patch(window_url(window), body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    window.refresh_from_db()
    assert (window.rrule, window.duration_minutes) == ("FREQ=WEEKLY;BYDAY=FR", 180)


@pytest.mark.parametrize("persona", ["developer", "leadership"])
def test_those_who_may_not_get_a_403_even_for_a_bad_body(api_as, request, persona, window, freeze):
    client = api_as(request.getfixturevalue(persona))
    assert client.patch(window_url(window), {"rrule": "nonsense"}, format="json").status_code == 403
    assert client.patch(window_url(window), {"name": "Mine"}, format="json").status_code == 403
    assert client.delete(window_url(window)).status_code == 403
    assert client.patch(freeze_url(freeze), {"ends_at": "soon"}, format="json").status_code == 403
    assert client.delete(freeze_url(freeze)).status_code == 403
    assert client.post(freeze_url(freeze, "end-now/"), {}, format="json").status_code == 403
    assert client.post(freeze_url(freeze, "end-now/"), {"reason": "x"}).status_code == 403
    assert client.get(window_url(window)).json()["actions"] == []
    window.refresh_from_db()
    freeze.refresh_from_db()
    assert window.name == "Friday afternoons" and window.deleted_at is None
    assert freeze.deleted_at is None and freeze.ended_early_at is None


def test_switching_a_window_off_and_on_through_patch(api_as, release_manager, window):
    client = api_as(release_manager)
    off = client.patch(window_url(window), {"is_active": False}, format="json").json()
    assert (off["is_active"], off["state"], off["actions"]) == (
        False,
        "inactive",
        ["delete", "edit", "reactivate"],
    )
    assert client.get("/api/v1/change-windows/").json()["results"] == []
    listed = client.get("/api/v1/change-windows/", {"status": "inactive"}).json()["results"]
    assert [w["name"] for w in listed] == ["Friday afternoons"]
    on = client.patch(window_url(window), {"is_active": True}, format="json").json()
    assert on["is_active"] is True
    actions = AuditEvent.objects.filter(action__startswith="change_window.").order_by("id")
    assert list(actions.values_list("action", flat=True)) == [
        "change_window.create",
        "change_window.deactivate",
        "change_window.reactivate",
    ]


def test_deleting_a_window_keeps_it_readable_and_out_of_the_list(api_as, release_manager, window):
    client = api_as(release_manager)
    assert client.delete(window_url(window)).status_code == 204
    detail = client.get(window_url(window)).json()
    assert detail["state"] == "deleted" and detail["deleted_at"] and detail["actions"] == []
    assert client.get("/api/v1/change-windows/").json()["results"] == []
    deleted = client.get("/api/v1/change-windows/", {"status": "deleted"}).json()["results"]
    assert [w["id"] for w in deleted] == [window.pk]
    assert client.delete(window_url(window)).status_code == 404
    assert client.patch(window_url(window), {"name": "Back"}, format="json").status_code == 404
    assert AuditEvent.objects.filter(action="change_window.delete").count() == 1


# --- Freezes -------------------------------------------------------------------------------------


def test_ending_a_freeze_now_needs_a_reason(api_as, release_manager, freeze):
    client = api_as(release_manager)
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = client.post(freeze_url(freeze, "end-now/"), body, format="json")
        assert response.status_code == 400 and "reason" in response.json(), body
    response = client.post(
        freeze_url(freeze, "end-now/"), {"reason": "Incident resolved"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["state"] == "ended" and body["end_reason"] == "Incident resolved"
    assert body["ended_early_at"] and body["actions"] == ["delete"]
    again = client.post(freeze_url(freeze, "end-now/"), {"reason": "Twice"}, format="json")
    assert again.status_code == 400 and "ends_at" in again.json()
    assert AuditEvent.objects.filter(action="freeze.end_now").count() == 1


def test_a_freeze_that_has_not_started_cannot_end_now(api_as, release_manager):
    now = timezone.now()
    upcoming = services.freeze_create(
        actor=release_manager,
        name="Next week",
        starts_at=now + timedelta(days=7),
        ends_at=now + timedelta(days=8),
        scope=WindowScope.ORGANISATION,
    )
    response = api_as(release_manager).post(
        freeze_url(upcoming, "end-now/"), {"reason": "Not needed"}, format="json"
    )
    assert response.status_code == 400
    assert "has not started yet" in response.json()["ends_at"][0]


def test_a_later_end_through_patch_extends_a_freeze_within_its_longest_span(
    api_as, release_manager, freeze
):
    client = api_as(release_manager)
    later = (freeze.ends_at + timedelta(days=3)).isoformat()
    response = client.patch(freeze_url(freeze), {"ends_at": later}, format="json")
    assert response.status_code == 200, response.json()
    too_late = (freeze.starts_at + timedelta(days=400)).isoformat()
    refused = client.patch(freeze_url(freeze), {"ends_at": too_late}, format="json")
    assert refused.status_code == 400
    assert "at most 366 days" in refused.json()["ends_at"][0]


def test_a_freeze_becomes_recurring_through_patch(api_as, release_manager, freeze):
    client = api_as(release_manager)
    bad = client.patch(freeze_url(freeze), {"rrule": "FREQ=SECONDLY"}, format="json")
    assert bad.status_code == 400 and "rrule" in bad.json()
    body = client.patch(
        freeze_url(freeze), {"rrule": "FREQ=DAILY", "time_zone": "Europe/Berlin"}, format="json"
    ).json()
    assert (body["rrule"], body["time_zone"], body["state"]) == (
        "FREQ=DAILY",
        "Europe/Berlin",
        "active",
    )
    assert "extend" not in body["actions"]


def test_deleting_a_freeze_lets_releases_through(api_as, release_manager, freeze, web, prod):
    now = timezone.now()
    assert not when_allowed(web, prod, now, now + timedelta(minutes=5)).allowed
    assert api_as(release_manager).delete(freeze_url(freeze)).status_code == 204
    assert when_allowed(web, prod, now, now + timedelta(minutes=5)).allowed
    freeze.refresh_from_db()
    assert freeze.deleted_by == release_manager


def test_a_recurring_freeze_is_created_through_the_api(api_as, platform_admin):
    response = api_as(platform_admin).post(
        "/api/v1/freezes/",
        {
            "name": "Quarter end",
            "starts_at": "2027-03-28T22:00:00Z",
            "ends_at": "2027-03-31T22:00:00Z",
            "rrule": "FREQ=MONTHLY;INTERVAL=3",
            "time_zone": "Europe/Berlin",
            "scope": "organisation",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "upcoming"


# --- Racing --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_managers_ending_a_freeze_at_once_end_it_once(release_manager, platform_admin):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    now = timezone.now()
    for attempt in range(3):
        freeze = services.freeze_create(
            actor=release_manager,
            name=f"Incident {attempt}",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=5),
            scope=WindowScope.ORGANISATION,
        )
        barrier = threading.Barrier(2)
        statuses = []

        def end(user_id: int, freeze_id: int = freeze.pk) -> None:
            try:
                client = APIClient()
                client.force_authenticate(User.objects.get(pk=user_id))
                barrier.wait(timeout=10)
                response = client.post(
                    f"/api/v1/freezes/{freeze_id}/end-now/", {"reason": "Resolved"}, format="json"
                )
                statuses.append(response.status_code)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=end, args=(user.pk,))
            for user in (release_manager, platform_admin)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(statuses) == [200, 400]
        ended = AuditEvent.objects.filter(action="freeze.end_now", target_id=str(freeze.pk))
        assert ended.count() == 1

"""Managing windows and freezes: each change is one service in one transaction that locks the
row, writes an audit row with before and after, and refuses with an error naming the field.
A deleted window or freeze is kept and decides nothing."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.chain import normalise_json
from apps.audit.models import AuditEvent
from apps.releases.calendar import services
from apps.releases.calendar.transitions import available_actions, state_of
from apps.releases.models import ChangeWindow, Freeze, WindowScope
from apps.releases.windows import when_allowed

pytestmark = pytest.mark.django_db

WINDOW = {
    "name": "Friday afternoons",
    "kind": ChangeWindow.Kind.DENY,
    "rrule": "FREQ=WEEKLY;BYDAY=FR",
    "starts_at_local": datetime(2026, 1, 2, 14, 0, tzinfo=UTC),
    "duration_minutes": 180,
    "time_zone": "Europe/Berlin",
    "scope": WindowScope.ORGANISATION,
}


def audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


@pytest.fixture
def window(release_manager) -> ChangeWindow:
    return services.change_window_create(actor=release_manager, **WINDOW)


@pytest.fixture
def make_freeze(release_manager):
    """A freeze from `starts` to `ends` hours from now, made through the service."""

    def make(starts: float, ends: float, **fields) -> Freeze:
        now = timezone.now()
        return services.freeze_create(
            actor=release_manager,
            name=fields.pop("name", "Incident 4711"),
            starts_at=fields.pop("starts_at", now + timedelta(hours=starts)),
            ends_at=fields.pop("ends_at", now + timedelta(hours=ends)),
            scope=fields.pop("scope", WindowScope.ORGANISATION),
            **fields,
        )

    return make


def blocked_now(web, prod) -> bool:
    now = timezone.now()
    return not when_allowed(web, prod, now, now + timedelta(minutes=30)).allowed


# --- Windows -------------------------------------------------------------------------------------


def test_editing_a_window_records_only_what_changed(release_manager, window):
    services.change_window_update(
        actor=release_manager, window=window, name="Fridays", duration_minutes=120, kind="deny"
    )
    window.refresh_from_db()
    (row,) = audit("change_window.update")
    assert (window.name, window.duration_minutes) == ("Fridays", 120)
    assert row.before == {"name": "Friday afternoons", "duration_minutes": 180}
    assert row.after == {"name": "Fridays", "duration_minutes": 120}
    assert (row.actor, row.target_id) == (release_manager, str(window.pk))


def test_an_edit_that_changes_nothing_writes_nothing(release_manager, window):
    services.change_window_update(actor=release_manager, window=window, name=window.name)
    assert audit("change_window.update") == []


def test_moving_a_window_to_the_organisation_forgets_its_team(release_manager, payments):
    window = services.change_window_create(
        actor=release_manager, **{**WINDOW, "scope": WindowScope.TEAM, "team": payments}
    )
    services.change_window_update(
        actor=release_manager, window=window, scope=WindowScope.ORGANISATION
    )
    window.refresh_from_db()
    assert window.team is None
    (row,) = audit("change_window.update")
    assert row.before == {"scope": "team", "team": "Payments"}
    assert row.after == {"scope": "organisation", "team": None}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "FREQ=SECONDLY"}, "rrule"),
        ({"rrule": "every friday"}, "rrule"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "America"}, "time_zone"),  # a folder of zones, not a zone
        ({"duration_minutes": 32 * 24 * 60}, "duration_minutes"),
        ({"starts_at_local": datetime(1999, 1, 1, 9, tzinfo=UTC)}, "starts_at_local"),
        ({"scope": WindowScope.TEAM}, "team"),
        ({"scope": WindowScope.ENVIRONMENT}, "environment_kind"),
    ],
)
def test_a_bad_edit_is_refused_naming_the_field_and_nothing_changes(
    release_manager, window, changes, field
):
    with pytest.raises(ValidationError) as error:
        services.change_window_update(actor=release_manager, window=window, **changes)
    assert field in error.value.message_dict
    stored = ChangeWindow.objects.get(pk=window.pk)
    assert (stored.rrule, stored.time_zone, stored.scope) == (
        WINDOW["rrule"],
        WINDOW["time_zone"],
        WINDOW["scope"],
    )
    assert audit("change_window.update") == []


def test_deactivating_a_window_is_audited_and_it_stops_deciding(release_manager, web, prod, window):
    friday = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # 15:00 in Berlin, inside the window
    assert not when_allowed(web, prod, friday, friday + timedelta(minutes=30)).allowed
    services.change_window_deactivate(actor=release_manager, window=window)
    assert when_allowed(web, prod, friday, friday + timedelta(minutes=30)).allowed
    (row,) = audit("change_window.deactivate")
    assert (row.before, row.after) == ({"is_active": True}, {"is_active": False})
    with pytest.raises(ValidationError) as error:
        services.change_window_deactivate(actor=release_manager, window=window)
    assert "already inactive" in error.value.message_dict["is_active"][0]
    services.change_window_reactivate(actor=release_manager, window=window)
    assert not when_allowed(web, prod, friday, friday + timedelta(minutes=30)).allowed
    assert [r.after for r in audit("change_window.reactivate")] == [{"is_active": True}]


def test_switching_a_window_off_in_an_edit_is_audited_as_a_deactivation(release_manager, window):
    services.change_window_update(actor=release_manager, window=window, is_active=False, name="X")
    assert [r.after for r in audit("change_window.update")] == [{"name": "X"}]
    assert [r.after for r in audit("change_window.deactivate")] == [{"is_active": False}]


def test_deleting_a_window_keeps_it_stops_it_deciding_and_is_audited(
    release_manager, web, prod, window
):
    friday = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    services.change_window_delete(actor=release_manager, window=window)
    window.refresh_from_db()
    assert window.deleted_at is not None and window.deleted_by == release_manager
    assert when_allowed(web, prod, friday, friday + timedelta(minutes=30)).allowed
    (row,) = audit("change_window.delete")
    assert row.before == {"deleted_at": None} and row.after["deleted_by"] == "riley"
    assert state_of(window) == "deleted" and available_actions(window, release_manager) == set()
    with pytest.raises(Http404):  # a second delete, or an edit racing the delete
        services.change_window_update(actor=release_manager, window=window, name="Again")


# --- Freezes -------------------------------------------------------------------------------------


def test_ending_a_freeze_early_lets_releases_start_and_keeps_why(
    release_manager, web, prod, make_freeze
):
    freeze = make_freeze(-1, 5)
    assert blocked_now(web, prod)
    before = timezone.now()
    services.freeze_end_now(actor=release_manager, freeze=freeze, reason="Incident resolved")
    freeze.refresh_from_db()
    assert before <= freeze.ends_at <= timezone.now()
    assert freeze.ended_early_at == freeze.ends_at and freeze.end_reason == "Incident resolved"
    assert not blocked_now(web, prod)
    (row,) = audit("freeze.end_now")
    assert row.before["end_reason"] == "" and row.before["ended_early_at"] is None
    assert row.after["end_reason"] == "Incident resolved"
    assert state_of(freeze) == "ended"


@pytest.mark.parametrize("reason", ["", "   "])
def test_ending_a_freeze_early_needs_a_reason(release_manager, make_freeze, reason):
    freeze = make_freeze(-1, 5)
    with pytest.raises(ValidationError) as error:
        services.freeze_end_now(actor=release_manager, freeze=freeze, reason=reason)
    assert "reason" in error.value.message_dict
    freeze.refresh_from_db()
    assert freeze.ended_early_at is None and audit("freeze.end_now") == []


def test_a_freeze_that_has_not_started_cannot_end_early(release_manager, make_freeze):
    freeze = make_freeze(2, 5)
    with pytest.raises(ValidationError) as error:
        services.freeze_end_now(actor=release_manager, freeze=freeze, reason="Not needed")
    assert "has not started yet" in error.value.message_dict["ends_at"][0]


def test_extending_a_freeze_moves_its_end_and_records_both(release_manager, make_freeze):
    freeze = make_freeze(-1, 5)
    old_end = freeze.ends_at
    services.freeze_extend(
        actor=release_manager, freeze=freeze, ends_at=old_end + timedelta(days=2)
    )
    freeze.refresh_from_db()
    assert freeze.ends_at == old_end + timedelta(days=2)
    (row,) = audit("freeze.extend")
    assert row.before == normalise_json({"ends_at": old_end})
    assert row.after == normalise_json({"ends_at": old_end + timedelta(days=2)})


@pytest.mark.parametrize(
    ("new_end", "says"),
    [
        (lambda freeze: freeze.ends_at - timedelta(hours=1), "after the current one"),
        (lambda freeze: freeze.ends_at, "after the current one"),
        (lambda freeze: freeze.starts_at + timedelta(days=367), "at most 366 days"),
        (lambda freeze: None, "Give the new end"),
    ],
)
def test_an_extension_must_end_later_and_within_the_longest_span(
    release_manager, make_freeze, new_end, says
):
    freeze = make_freeze(-1, 5)
    with pytest.raises(ValidationError) as error:
        services.freeze_extend(actor=release_manager, freeze=freeze, ends_at=new_end(freeze))
    assert says in error.value.message_dict["ends_at"][0]
    assert audit("freeze.extend") == []


def test_an_ended_freeze_is_kept_as_it_was(release_manager, make_freeze):
    freeze = make_freeze(-5, -1)
    for attempt in (
        lambda: services.freeze_update(actor=release_manager, freeze=freeze, name="Renamed"),
        lambda: services.freeze_extend(
            actor=release_manager, freeze=freeze, ends_at=timezone.now() + timedelta(hours=1)
        ),
        lambda: services.freeze_end_now(actor=release_manager, freeze=freeze, reason="Why not"),
    ):
        with pytest.raises(ValidationError) as error:
            attempt()
        assert "ends_at" in error.value.message_dict
    assert available_actions(freeze, release_manager) == {"delete"}


def test_deleting_a_freeze_stops_it_blocking_and_is_audited(
    release_manager, web, prod, make_freeze
):
    freeze = make_freeze(-1, 5)
    assert blocked_now(web, prod)
    services.freeze_delete(actor=release_manager, freeze=freeze)
    assert not blocked_now(web, prod)
    freeze.refresh_from_db()
    assert freeze.deleted_by == release_manager and freeze.deleted_at is not None
    (row,) = audit("freeze.delete")
    assert (row.before, row.after["deleted_by"]) == ({"deleted_at": None}, "riley")
    with pytest.raises(Http404):
        services.freeze_delete(actor=release_manager, freeze=freeze)


def test_editing_a_freeze_records_before_and_after(release_manager, make_freeze):
    freeze = make_freeze(1, 5, reason="Migration")
    services.freeze_update(actor=release_manager, freeze=freeze, reason="Database migration")
    (row,) = audit("freeze.update")
    assert (row.before, row.after) == ({"reason": "Migration"}, {"reason": "Database migration"})


# --- Who, and what each state allows ---------------------------------------------------------


@pytest.mark.parametrize("persona", ["developer", "leadership", "outsider"])
def test_only_release_managers_and_admins_change_windows_and_freezes(
    request, persona, window, make_freeze
):
    actor = request.getfixturevalue(persona)
    freeze = make_freeze(-1, 5)
    attempts = [
        lambda: services.change_window_update(actor=actor, window=window, name="Mine"),
        lambda: services.change_window_deactivate(actor=actor, window=window),
        lambda: services.change_window_delete(actor=actor, window=window),
        lambda: services.freeze_update(actor=actor, freeze=freeze, name="Mine"),
        lambda: services.freeze_end_now(actor=actor, freeze=freeze, reason="Mine"),
        lambda: services.freeze_extend(
            actor=actor, freeze=freeze, ends_at=freeze.ends_at + timedelta(hours=1)
        ),
        lambda: services.freeze_delete(actor=actor, freeze=freeze),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert available_actions(freeze, actor) == set()
    assert not AuditEvent.objects.exclude(action__endswith=".create").exists()


def test_what_a_freeze_allows_follows_its_state(release_manager, platform_admin, make_freeze):
    active, upcoming = make_freeze(-1, 5), make_freeze(2, 5)
    recurring = make_freeze(-1, 1, rrule="FREQ=DAILY")
    assert available_actions(active, release_manager) == {"edit", "end_now", "extend", "delete"}
    assert available_actions(upcoming, platform_admin) == {"edit", "extend", "delete"}
    # A recurring freeze changes its occurrences by an edit, not an extension.
    assert available_actions(recurring, release_manager) == {"edit", "end_now", "delete"}
    with pytest.raises(ValidationError) as error:
        services.freeze_extend(
            actor=release_manager, freeze=recurring, ends_at=recurring.ends_at + timedelta(hours=1)
        )
    assert "recurring" in error.value.message_dict["ends_at"][0]


@pytest.mark.parametrize(
    ("service", "arguments"),
    [
        (services.change_window_update, {"name": "Locked"}),
        (services.change_window_deactivate, {}),
        (services.change_window_delete, {}),
    ],
)
def test_every_window_change_locks_the_row(release_manager, window, service, arguments):
    with CaptureQueriesContext(connection) as queries:
        service(actor=release_manager, window=window, **arguments)
    assert any("FOR UPDATE" in q["sql"] and "releases_changewindow" in q["sql"] for q in queries), (
        "no row lock on the window"
    )


@pytest.mark.parametrize(
    ("service", "arguments"),
    [
        (services.freeze_update, {"name": "Locked"}),
        (services.freeze_end_now, {"reason": "Done"}),
        (services.freeze_extend, {"ends_at": timezone.now() + timedelta(days=3)}),
        (services.freeze_delete, {}),
    ],
)
def test_every_freeze_change_locks_the_row(release_manager, make_freeze, service, arguments):
    freeze = make_freeze(-1, 5)
    with CaptureQueriesContext(connection) as queries:
        service(actor=release_manager, freeze=freeze, **arguments)
    assert any("FOR UPDATE" in q["sql"] and "releases_freeze" in q["sql"] for q in queries)

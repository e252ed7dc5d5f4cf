"""The pages where release managers manage windows and freezes: the lists (state in words, next
occurrences, what is in force unless asked), each one's page and actions, the forms' live
preview in both time zones with the releases a change would block or allow, and a 403 for
everyone else on every one of them."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.releases.calendar import services
from apps.releases.models import ChangeWindow, Freeze, ReleaseState, WindowScope
from tests.factories import ServiceFactory
from tests.releases.calendar.helpers import utc

pytestmark = pytest.mark.django_db

WINDOW_FORM = {
    "name": "Berlin mornings",
    "kind": "allow",
    "rrule": "FREQ=DAILY",
    "starts_at_local": "2030-03-25T09:00",
    "duration_minutes": "60",
    "time_zone": "Europe/Berlin",
    "scope": "organisation",
}


def in_zone(user, zone: str):
    user.time_zone = zone
    user.save(update_fields=["time_zone"])
    return user


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- Who may ----------------------------------------------------------------------------------

PAGES = [
    ("get", "releases:change-calendar", None),
    ("get", "releases:window-list", None),
    ("get", "releases:window-create", None),
    ("post", "releases:window-create", None),
    ("get", "releases:window-preview", None),
    ("get", "releases:window-detail", "window"),
    ("get", "releases:window-edit", "window"),
    ("post", "releases:window-edit", "window"),
    ("get", "releases:window-edit-preview", "window"),
    ("post", "releases:window-deactivate", "window"),
    ("post", "releases:window-reactivate", "window"),
    ("post", "releases:window-delete", "window"),
    ("get", "releases:freeze-list", None),
    ("get", "releases:freeze-create", None),
    ("post", "releases:freeze-create", None),
    ("get", "releases:freeze-preview", None),
    ("get", "releases:freeze-detail", "freeze"),
    ("get", "releases:freeze-edit", "freeze"),
    ("post", "releases:freeze-edit", "freeze"),
    ("get", "releases:freeze-edit-preview", "freeze"),
    ("post", "releases:freeze-end-now", "freeze"),
    ("post", "releases:freeze-extend", "freeze"),
    ("post", "releases:freeze-delete", "freeze"),
]


@pytest.mark.parametrize("persona", ["developer", "leadership"])
def test_everyone_but_release_managers_and_admins_gets_a_403_everywhere(
    client_as, request, persona, window, freeze
):
    client = client_as(request.getfixturevalue(persona))
    objects = {"window": window, "freeze": freeze}
    for method, name, target in PAGES:
        url = reverse(name, args=[objects[target].pk] if target else [])
        body = {**WINDOW_FORM, "reason": "Mine"} if method == "post" else WINDOW_FORM
        response = getattr(client, method)(url, body)
        assert response.status_code == 403, (method, name)
    window.refresh_from_db()
    freeze.refresh_from_db()
    assert window.is_active and window.deleted_at is None
    assert freeze.deleted_at is None and freeze.ended_early_at is None
    changes = AuditEvent.objects.filter(action__regex=r"^(change_window|freeze)\.")
    assert sorted(changes.values_list("action", flat=True)) == [
        "change_window.create",
        "freeze.create",
    ]


def test_release_managers_and_admins_reach_every_page(
    client_as, release_manager, platform_admin, window, freeze
):
    for user in (release_manager, platform_admin):
        client = client_as(user)
        for method, name, target in PAGES:
            if method == "get" and "preview" not in name:
                pk = {"window": window, "freeze": freeze}[target].pk if target else None
                url = reverse(name, args=[pk] if pk else [])
                assert client.get(url, follow=True).status_code == 200, name


def test_the_calendar_links_windows_and_freezes_for_those_who_manage_them(
    client_as, release_manager, developer, window
):
    services.freeze_create(
        actor=release_manager,
        name="Spring freeze",
        starts_at=utc(2026, 3, 10),
        ends_at=utc(2026, 3, 12),
        scope=WindowScope.ORGANISATION,
    )
    freeze_id = Freeze.objects.get(name="Spring freeze").pk
    params = {"view": "month", "date": "2026-03-01"}
    managed = text(client_as(release_manager).get("/releases/calendar/", params))
    assert f'href="{reverse("releases:window-detail", args=[window.pk])}"' in managed
    assert f'href="{reverse("releases:freeze-detail", args=[freeze_id])}"' in managed
    assert f'href="{reverse("releases:window-list")}"' in managed
    read_only = text(client_as(developer).get("/releases/calendar/", params))
    assert "/change-calendar/" not in read_only and "❄ Spring freeze" in read_only


# --- Lists -------------------------------------------------------------------------------------


def test_the_freeze_list_says_each_state_in_words(client_as, release_manager):
    now = timezone.now()
    for name, start, end in [
        ("Under way", -1, 5),
        ("Next week", 24 * 7, 24 * 8),
        ("Last month", -24 * 30, -24 * 29),
    ]:
        services.freeze_create(
            actor=release_manager,
            name=name,
            starts_at=now + timedelta(hours=start),
            ends_at=now + timedelta(hours=end),
            scope=WindowScope.ORGANISATION,
        )
    html = text(client_as(release_manager).get(reverse("releases:freeze-list")))
    for name, state in [
        ("Under way", "Active now"),
        ("Next week", "Upcoming"),
        ("Last month", "Ended"),
    ]:
        row = re.search(rf"<tr data-freeze=\"\d+\">.*?{name}.*?</tr>", html).group(0)
        assert f'data-testid="rule-state">{state}<' in row, name


def test_inactive_and_deleted_windows_are_listed_only_when_asked(
    client_as, release_manager, window
):
    other = services.change_window_create(
        actor=release_manager,
        name="Weekend freeze window",
        kind="deny",
        rrule="FREQ=WEEKLY;BYDAY=SA,SU",
        starts_at_local=utc(2026, 1, 3),
        duration_minutes=24 * 60,
        time_zone="UTC",
        scope=WindowScope.ORGANISATION,
    )
    services.change_window_deactivate(actor=release_manager, window=window)
    client = client_as(release_manager)

    def listed(**params) -> list[str]:
        html = client.get(reverse("releases:window-list"), params).content.decode()
        return re.findall(r'<tr data-window="\d+">\s*<td><a [^>]+>([^<]+)</a>', html)

    assert listed() == ["Weekend freeze window"]
    assert listed(status="inactive") == ["Friday afternoons"]
    services.change_window_delete(actor=release_manager, window=other)
    assert listed() == []
    assert listed(status="deleted") == ["Weekend freeze window"]
    assert sorted(listed(status="all")) == ["Friday afternoons", "Weekend freeze window"]


def test_the_window_list_shows_next_occurrences_in_the_viewers_zone(
    client_as, release_manager, window
):
    html = text(
        client_as(in_zone(release_manager, "Asia/Tokyo")).get(reverse("releases:window-list"))
    )
    # 14:00 in Berlin on a Friday is 22:00 (winter) or 21:00 (summer) in Tokyo.
    assert re.search(r"Fri \d+ \w+ 2[12]:00</time>", html)
    assert "Europe/Berlin" in html and "(Asia/Tokyo)" in html


def test_the_lists_cost_the_same_few_queries_with_many_rows(
    client_as, release_manager, payments, search, django_assert_max_num_queries
):
    now = timezone.now()
    service = ServiceFactory(name="ledger", owner=payments)
    scopes = [
        {"scope": WindowScope.ORGANISATION},
        {"scope": WindowScope.TEAM, "team": payments},
        {"scope": WindowScope.TEAM, "team": search},
        {"scope": WindowScope.SERVICE, "service": service},
        {"scope": WindowScope.ENVIRONMENT, "environment_kind": "production"},
    ]
    for index in range(60):
        ChangeWindow.objects.create(
            name=f"Window {index:02}",
            kind="allow" if index % 2 else "deny",
            rrule=["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TU", "FREQ=HOURLY;INTERVAL=5"][index % 3],
            starts_at_local=utc(2026, 1, 1, 9),
            duration_minutes=60,
            time_zone=["UTC", "Europe/Berlin", "America/New_York"][index % 3],
            is_active=index % 7 != 0,
            **scopes[index % len(scopes)],
        )
        Freeze.objects.create(
            name=f"Freeze {index:02}",
            starts_at=now + timedelta(days=index - 30),
            ends_at=now + timedelta(days=index - 29),
            rrule="FREQ=MONTHLY" if index % 4 == 0 else "",
            time_zone="Europe/Berlin",
            created_by=release_manager,
            **scopes[index % len(scopes)],
        )
    client = client_as(release_manager)
    # session and user; roles (the menu, the view's check); the rows with their team,
    # service and deleter; their count
    for name, rows in (("releases:window-list", 51), ("releases:freeze-list", 50)):
        with django_assert_max_num_queries(6):
            response = client.get(reverse(name))
        assert response.status_code == 200
        assert response.content.decode().count("<tr data-") == min(rows, 50)
        with django_assert_max_num_queries(6):
            assert client.get(reverse(name), {"page": 2}, HTTP_HX_REQUEST="true").status_code == 200


# --- The preview -------------------------------------------------------------------------------


def preview(client, data: dict, *, pk: int | None = None, kind: str = "window") -> str:
    name = f"releases:{kind}-edit-preview" if pk else f"releases:{kind}-preview"
    response = client.get(reverse(name, args=[pk] if pk else []), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return text(response)


def occurrence_rows(html: str) -> list[tuple[str, str]]:
    """(the rule's zone, the viewer's zone) of each row of the preview's occurrences."""
    rows = re.findall(r'<td data-zone="rule">(.*?)</td>\s*<td data-zone="viewer">(.*?)</td>', html)
    strip = lambda cell: re.sub(r"<[^>]+>", "", cell).strip()  # noqa: E731
    return [(strip(rule), strip(viewer)) for rule, viewer in rows]


def test_the_preview_shows_ten_occurrences_in_both_zones_across_a_dst_change(
    client_as, release_manager
):
    client = client_as(in_zone(release_manager, "America/New_York"))
    rows = occurrence_rows(preview(client, WINDOW_FORM))
    assert len(rows) == 10
    # Berlin keeps 09:00 all along; New York (on summer time since 10 March) sees 04:00
    # until Europe's clocks go forward on 31 March, then 03:00.
    assert rows[0] == (
        "Mon 25 Mar 2030 09:00–10:00 CET",
        "Mon 25 Mar 2030 04:00–05:00 EDT",
    )
    assert rows[5][0].startswith("Sat 30 Mar 2030 09:00") and "04:00" in rows[5][1]
    assert rows[6] == (
        "Sun 31 Mar 2030 09:00–10:00 CEST",
        "Sun 31 Mar 2030 03:00–04:00 EDT",
    )
    assert all(rule.split()[4] == "09:00–10:00" for rule, _ in rows)
    assert not ChangeWindow.objects.exists()  # nothing saved


@pytest.mark.parametrize(
    ("changes", "label", "says"),
    [
        ({"rrule": "FREQ=SECONDLY"}, "Rule (RRULE)", "hourly at the finest"),
        ({"rrule": "FREQ=DAILY;COUNT=100000"}, "Rule (RRULE)", "COUNT must be between"),
        ({"rrule": "DTSTART:20300101\nRRULE:FREQ=DAILY"}, "Rule (RRULE)", "Start with FREQ"),
        ({"starts_at_local": "1999-01-01T09:00"}, "First occurrence", "between 2000"),
        ({"starts_at_local": "soon"}, "First occurrence", "valid date"),
        ({"duration_minutes": "50000"}, "Duration (minutes)", "at most 31 days"),
        ({"duration_minutes": "0"}, "Duration (minutes)", "greater than or equal to 1"),
        ({"time_zone": "Mars/Olympus"}, "Time zone", "valid choice"),
        ({"scope": "team"}, "Team", "names its team"),
        ({"rrule": ""}, "Rule (RRULE)", "required"),
    ],
)
def test_a_rule_that_cannot_be_previewed_shows_the_field_error(
    client_as, release_manager, changes, label, says
):
    html = preview(client_as(release_manager), {**WINDOW_FORM, **changes})
    errors = re.search(r'data-testid="preview-errors">(.*?)</div>', html).group(1)
    assert f"<strong>{label}</strong>: " in errors and says in errors, errors
    assert 'data-testid="occurrences"' not in html


@pytest.fixture
def planned(checkout, release_at):
    """An approved release of checkout to production in two days, 10:00-11:00 UTC."""
    start = (timezone.now() + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    return release_at(checkout, start, state=ReleaseState.APPROVED)


def test_the_preview_names_the_releases_a_new_deny_window_would_block(
    client_as, release_manager, planned, indexer, release_at
):
    elsewhere = release_at(indexer, planned.planned_start)  # search's: out of scope
    data = {
        **WINDOW_FORM,
        "kind": "deny",
        "starts_at_local": planned.planned_start.strftime("%Y-%m-%dT09:30"),
        "time_zone": "UTC",
        "scope": "team",
        "team": "payments",
    }
    html = preview(client_as(release_manager), data)
    blocked = re.search(r'data-testid="newly-blocked">(.*?)</ul>', html).group(1)
    assert f"#{planned.pk} checkout → production" in blocked
    assert "Deny window “Berlin mornings”" in blocked
    assert f"#{elsewhere.pk} " not in html
    assert "1 open release in scope planned in the next 90 days" in html


def test_the_preview_names_the_releases_an_edit_would_allow_again(
    client_as, release_manager, planned
):
    window = services.change_window_create(
        actor=release_manager,
        name="Release day off",
        kind="deny",
        rrule="FREQ=DAILY",
        starts_at_local=planned.planned_start.replace(hour=9, minute=0),
        duration_minutes=240,
        time_zone="UTC",
        scope=WindowScope.ENVIRONMENT,
        environment_kind="production",
    )
    moved = {
        **WINDOW_FORM,
        "name": "Release day off",
        "kind": "deny",
        "starts_at_local": planned.planned_start.strftime("%Y-%m-%dT14:00"),
        "time_zone": "UTC",
        "scope": "environment",
        "environment_kind": "production",
    }
    html = preview(client_as(release_manager), moved, pk=window.pk)
    allowed = re.search(r'data-testid="newly-allowed">(.*?)</ul>', html).group(1)
    assert f"#{planned.pk} checkout → production" in allowed
    assert "was: Deny window “Release day off”" in allowed
    window.refresh_from_db()
    assert window.starts_at_local.hour == 9  # a preview saves nothing


def test_the_preview_of_a_freeze_names_what_it_would_block(client_as, release_manager, planned):
    day = planned.planned_start
    data = {
        "name": "Payments audit",
        "starts_at": day.strftime("%Y-%m-%dT00:00"),
        "ends_at": day.strftime("%Y-%m-%dT23:00"),
        "time_zone": "UTC",
        "scope": "service",
        "service": "checkout",
    }
    html = preview(client_as(release_manager), data, kind="freeze")
    blocked = re.search(r'data-testid="newly-blocked">(.*?)</ul>', html).group(1)
    assert f"#{planned.pk} checkout → production" in blocked
    assert "Freeze “Payments audit”" in blocked
    assert len(occurrence_rows(html)) == 1


def test_the_preview_judges_at_most_fifty_releases(
    client_as, release_manager, checkout, release_at
):
    start = timezone.now() + timedelta(days=1)
    for index in range(55):
        release_at(checkout, start + timedelta(hours=index))
    html = preview(client_as(release_manager), {**WINDOW_FORM, "kind": "deny"})
    assert "50 open releases in scope planned in the next 90 days (the first 50; more" in html


# --- Forms and actions -------------------------------------------------------------------------


def test_a_release_manager_creates_and_edits_a_window_through_the_form(client_as, release_manager):
    client = client_as(release_manager)
    response = client.post(reverse("releases:window-create"), WINDOW_FORM)
    window = ChangeWindow.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("releases:window-detail", args=[window.pk])
    assert window.starts_at_local == datetime(2030, 3, 25, 9, tzinfo=UTC)  # wall clock
    edit = reverse("releases:window-edit", args=[window.pk])
    assert 'value="2030-03-25T09:00"' in client.get(edit).content.decode()
    client.post(edit, {**WINDOW_FORM, "duration_minutes": "90"})
    window.refresh_from_db()
    assert window.duration_minutes == 90
    (row,) = AuditEvent.objects.filter(action="change_window.update")
    assert row.after == {"duration_minutes": 90}


def test_a_refused_window_shows_the_error_next_to_the_field(client_as, release_manager):
    response = client_as(release_manager).post(
        reverse("releases:window-create"), {**WINDOW_FORM, "rrule": "FREQ=SECONDLY"}
    )
    html = text(response)
    assert response.status_code == 200 and not ChangeWindow.objects.exists()
    field = re.search(r'data-field="rrule">(.*?)</p>', html).group(1)
    assert "hourly at the finest" in field


def test_a_freeze_is_made_in_its_own_time_zone(client_as, release_manager):
    response = client_as(release_manager).post(
        reverse("releases:freeze-create"),
        {
            "name": "Quarter end",
            "starts_at": "2027-03-29T00:00",
            "ends_at": "2027-04-01T00:00",
            "time_zone": "Europe/Berlin",
            "rrule": "FREQ=MONTHLY;INTERVAL=3",
            "scope": "organisation",
        },
    )
    freeze = Freeze.objects.get()
    assert response.status_code == 302
    assert freeze.starts_at == utc(2027, 3, 28, 22)  # midnight in Berlin, summer time
    assert (freeze.rrule, freeze.time_zone) == ("FREQ=MONTHLY;INTERVAL=3", "Europe/Berlin")


def test_ending_a_freeze_from_its_page_needs_a_reason(client_as, release_manager, freeze):
    client = client_as(release_manager)
    url = reverse("releases:freeze-end-now", args=[freeze.pk])
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400
    assert "Say why the freeze ends early" in text(refused)
    freeze.refresh_from_db()
    assert freeze.ended_early_at is None
    done = client.post(url, {"reason": "Incident resolved"})
    assert done.status_code == 302
    freeze.refresh_from_db()
    assert freeze.end_reason == "Incident resolved" and freeze.ends_at <= timezone.now()
    page = text(client.get(reverse("releases:freeze-detail", args=[freeze.pk])))
    assert 'data-testid="rule-state">Ended<' in page and "Incident resolved" in page
    assert "End the freeze now" not in page


def test_extending_a_freeze_from_its_page_reads_its_time_zone(client_as, release_manager, freeze):
    new_end = (freeze.ends_at + timedelta(days=1)).astimezone(UTC).replace(second=0, microsecond=0)
    response = client_as(release_manager).post(
        reverse("releases:freeze-extend", args=[freeze.pk]),
        {"ends_at": new_end.strftime("%Y-%m-%dT%H:%M")},  # the freeze's zone is UTC
    )
    assert response.status_code == 302
    freeze.refresh_from_db()
    assert freeze.ends_at == new_end


def test_deactivating_and_deleting_a_window_from_its_page(client_as, release_manager, window):
    client = client_as(release_manager)
    client.post(reverse("releases:window-deactivate", args=[window.pk]))
    window.refresh_from_db()
    assert not window.is_active
    again = client.post(reverse("releases:window-deactivate", args=[window.pk]), follow=True)
    assert "already inactive" in text(again)
    page = text(client.get(reverse("releases:window-detail", args=[window.pk])))
    assert ">Reactivate</button>" in page and ">Deactivate</button>" not in page
    response = client.post(reverse("releases:window-delete", args=[window.pk]))
    assert response["Location"] == reverse("releases:window-list")
    window.refresh_from_db()
    assert window.deleted_at is not None
    assert client.get(reverse("releases:window-edit", args=[window.pk])).status_code == 404


def test_an_ended_freeze_is_not_offered_for_editing(client_as, release_manager):
    now = timezone.now()
    ended = services.freeze_create(
        actor=release_manager,
        name="Last week",
        starts_at=now - timedelta(days=8),
        ends_at=now - timedelta(days=7),
        scope=WindowScope.ORGANISATION,
    )
    client = client_as(release_manager)
    page = text(client.get(reverse("releases:freeze-detail", args=[ended.pk])))
    assert reverse("releases:freeze-edit", args=[ended.pk]) not in page
    response = client.get(reverse("releases:freeze-edit", args=[ended.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("releases:freeze-detail", args=[ended.pk])
    assert "has ended and is kept as it was" in text(response)

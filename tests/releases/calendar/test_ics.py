from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from apps.accounts.models import TeamMembership
from apps.releases.calendar.services import calendar_feed_create
from apps.releases.models import ReleaseState, WindowScope
from tests.releases.calendar.helpers import freeze

pytestmark = pytest.mark.django_db


def fetch(client, feed) -> Calendar:
    response = client.get(reverse("releases:ics", args=[feed.token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> dict[str, dict]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


@pytest.fixture
def soon():
    return timezone.now().replace(microsecond=0) + timedelta(days=3)


def test_a_feed_is_read_without_signing_in_and_holds_the_release_as_an_event(
    client, developer, checkout, release_at, soon
):
    release = release_at(checkout, soon, hours=2, version="2.1.0", state=ReleaseState.APPROVED)
    feed = calendar_feed_create(actor=developer)
    event = events(fetch(client, feed))[f"release-{release.pk}@runway"]
    assert event.decoded("DTSTART") == release.planned_start
    assert event.decoded("DTEND") == release.planned_start + timedelta(hours=2)
    assert event["DTSTART"].to_ical() == soon.strftime("%Y%m%dT%H%M%SZ").encode()  # in UTC
    assert str(event["SUMMARY"]) == "checkout 2.1.0 → production"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == f"http://testserver/releases/{release.pk}/"
    description = str(event["DESCRIPTION"])
    assert "State: Approved" in description and "Risk: low" in description
    assert f"Requested by: {developer.display_name} (dana)" in description
    assert event.decoded("LAST-MODIFIED") == release.updated_at.replace(microsecond=0)
    assert "DTSTAMP" in event


def test_the_calendar_says_who_made_it_and_what_it_is(client, developer):
    calendar = fetch(client, calendar_feed_create(actor=developer))
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == "-//Runway//Release calendar//EN"
    assert str(calendar["X-WR-CALNAME"]) == f"Runway releases · {developer.display_name}"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (ReleaseState.DRAFT, "TENTATIVE"),
        (ReleaseState.PENDING_APPROVAL, "TENTATIVE"),
        (ReleaseState.SCHEDULED, "CONFIRMED"),
        (ReleaseState.SUCCEEDED, "CONFIRMED"),
        (ReleaseState.ROLLED_BACK, "CONFIRMED"),
        (ReleaseState.REJECTED, "CANCELLED"),
        (ReleaseState.CANCELLED, "CANCELLED"),
    ],
)
def test_the_event_status_follows_the_release_state(
    client, developer, checkout, release_at, soon, state, status
):
    release = release_at(checkout, soon, state=state)
    event = events(fetch(client, calendar_feed_create(actor=developer)))[
        f"release-{release.pk}@runway"
    ]
    assert str(event["STATUS"]) == status


def test_a_digest_is_shortened_in_the_summary_and_kept_whole_in_the_description(
    client, developer, checkout, release_at, soon
):
    digest = "registry/checkout@sha256:" + "ab12" * 16
    release = release_at(checkout, soon, version=digest)
    event = events(fetch(client, calendar_feed_create(actor=developer)))[
        f"release-{release.pk}@runway"
    ]
    assert str(event["SUMMARY"]) == "checkout registry/checkout@sha256:ab12ab12ab12 → production"
    assert digest in str(event["DESCRIPTION"])


def test_a_personal_feed_holds_what_i_requested_and_what_my_teams_own(
    client, developer, other_developer, checkout, indexer, release_at, soon
):
    ours = release_at(checkout, soon, requester=other_developer)
    mine_elsewhere = release_at(indexer, soon, requester=developer)
    theirs = release_at(indexer, soon, requester=other_developer)
    uids = events(fetch(client, calendar_feed_create(actor=developer))).keys()
    assert f"release-{ours.pk}@runway" in uids
    assert f"release-{mine_elsewhere.pk}@runway" in uids
    assert f"release-{theirs.pk}@runway" not in uids


def test_someone_in_no_team_follows_the_releases_they_requested(
    client, outsider, checkout, release_at, soon
):
    theirs = release_at(checkout, soon, requester=outsider)
    release_at(checkout, soon)
    uids = events(fetch(client, calendar_feed_create(actor=outsider))).keys()
    assert list(uids) == [f"release-{theirs.pk}@runway"]


def test_a_team_feed_holds_the_teams_releases_only(
    client, developer, payments, checkout, indexer, release_at, soon
):
    ours = release_at(checkout, soon)
    mine_elsewhere = release_at(indexer, soon, requester=developer)
    calendar = fetch(client, calendar_feed_create(actor=developer, team=payments))
    assert [uid for uid in events(calendar) if uid.startswith("release-")] == [
        f"release-{ours.pk}@runway"
    ]
    assert str(calendar["X-WR-CALNAME"]) == "Runway releases · Payments"
    assert f"release-{mine_elsewhere.pk}@runway" not in events(calendar)


def test_the_feed_reaches_90_days_back_and_a_year_ahead(client, developer, checkout, release_at):
    now = timezone.now()
    kept = [
        release_at(checkout, now - timedelta(days=85)),
        release_at(checkout, now + timedelta(days=360)),
    ]
    dropped = [
        release_at(checkout, now - timedelta(days=95)),
        release_at(checkout, now + timedelta(days=370)),
    ]
    uids = events(fetch(client, calendar_feed_create(actor=developer))).keys()
    assert all(f"release-{r.pk}@runway" in uids for r in kept)
    assert not any(f"release-{r.pk}@runway" in uids for r in dropped)


def test_freezes_that_stop_the_team_are_events_too(client, developer, payments, search, soon):
    everyone = freeze("Holidays", soon, soon + timedelta(days=2), reason="Year end")
    ours = freeze(
        "Payments audit", soon, soon + timedelta(hours=5), scope=WindowScope.TEAM, team=payments
    )
    theirs = freeze(
        "Search migration", soon, soon + timedelta(hours=5), scope=WindowScope.TEAM, team=search
    )
    found = events(fetch(client, calendar_feed_create(actor=developer, team=payments)))
    event = found[f"freeze-{everyone.pk}@runway"]
    assert str(event["SUMMARY"]) == "Change freeze: Holidays"
    assert event.decoded("DTSTART") == soon and event.decoded("DTEND") == soon + timedelta(days=2)
    assert "Whole organisation" in str(event["DESCRIPTION"]) and "Year end" in str(
        event["DESCRIPTION"]
    )
    assert f"freeze-{ours.pk}@runway" in found
    assert f"freeze-{theirs.pk}@runway" not in found


def test_every_event_has_the_properties_rfc_5545_requires(
    client, developer, checkout, release_at, soon
):
    release_at(checkout, soon)
    freeze("Holidays", soon, soon + timedelta(days=1))
    for event in fetch(client, calendar_feed_create(actor=developer)).walk("VEVENT"):
        assert {"UID", "DTSTAMP", "DTSTART"} <= set(event.keys())


def test_a_revoked_feed_is_404(client, developer):
    feed = calendar_feed_create(actor=developer)
    feed.revoked_at = timezone.now()
    feed.save()
    assert client.get(reverse("releases:ics", args=[feed.token])).status_code == 404


def test_an_unknown_token_is_404(client, developer):
    calendar_feed_create(actor=developer)
    assert client.get(reverse("releases:ics", args=["not-a-token"])).status_code == 404


def test_a_team_feed_stops_when_its_maker_leaves_the_team(client, developer, payments):
    feed = calendar_feed_create(actor=developer, team=payments)
    TeamMembership.objects.filter(user=developer, team=payments).delete()
    assert client.get(reverse("releases:ics", args=[feed.token])).status_code == 404


def test_a_feed_stops_when_its_maker_is_deactivated(client, developer):
    feed = calendar_feed_create(actor=developer)
    developer.is_active = False
    developer.save()
    assert client.get(reverse("releases:ics", args=[feed.token])).status_code == 404


def test_a_feed_costs_the_same_queries_with_many_releases(
    client, developer, checkout, release_at, soon, django_assert_max_num_queries
):
    freeze("Holidays", soon, soon + timedelta(days=1))
    for index in range(100):
        release_at(checkout, soon + timedelta(hours=index))
    feed = calendar_feed_create(actor=developer)
    # the feed with its user; their roles and teams; releases; freezes
    with django_assert_max_num_queries(5):
        assert len(fetch(client, feed).walk("VEVENT")) == 101

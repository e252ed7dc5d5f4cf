"""A train in the release calendar and its iCalendar feeds: one entry (one event) for the train,
its members listed compactly, none of them by itself."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from apps.catalog.models import Service
from apps.releases import services as release_services
from apps.releases.calendar.services import calendar_feed_create
from apps.trains import services
from tests.trains.fixtures import members_of

pytestmark = pytest.mark.django_db


def week_of(train) -> str:
    day = train.members.first().release.planned_start.date().isoformat()
    return f"/releases/calendar/?view=week&date={day}"


def test_the_week_shows_a_train_as_one_entry_with_its_members(
    client_as, developer, make_train, union_policies
):
    train = make_train(submit=True)
    members = list(train.members.values_list("release_id", flat=True))
    response = client_as(developer).get(week_of(train))
    html = response.content.decode()
    assert html.count(f'data-group="train-{train.pk}"') == 1
    assert f'href="/trains/{train.pk}/"' in html
    assert "Train December train → prod" in html
    assert "5 releases" in html
    assert "a@2.0.0, b@2.0.0, c@2.0.0, d@2.0.0, e@2.0.0" in html
    assert "Submitted" in html
    for release_id in members:
        assert f'data-release="{release_id}"' not in html
    assert "0 releases · 1 train" in html


def test_the_agenda_and_the_month_show_the_train_once_too(
    client_as, developer, make_train, diamond
):
    train = make_train()
    client = client_as(developer)
    day = train.members.first().release.planned_start.date()
    agenda = client.get(f"/releases/calendar/?view=agenda&date={day.isoformat()}")
    month = client.get(f"/releases/calendar/?view=month&date={day.isoformat()}")
    for page in (agenda, month):
        html = page.content.decode()
        assert html.count(f'data-group="train-{train.pk}"') == 1
        assert "data-release=" not in html


def test_filtering_by_a_members_service_keeps_the_train_and_other_services_do_not(
    client_as, developer, make_train, diamond, prod_services
):
    train = make_train("ab")
    client = client_as(developer)
    shown = client.get(week_of(train) + "&service=a").content.decode()
    assert f'data-group="train-{train.pk}"' in shown
    hidden = client.get(week_of(train) + "&service=e").content.decode()
    assert f'data-group="train-{train.pk}"' not in hidden


def test_a_release_overlapping_a_member_warns_on_the_train_but_members_do_not_warn_of_each_other(
    client_as, developer, make_train, diamond
):
    train = make_train("ab")  # a depends on b: inside the train, no warning
    quiet = client_as(developer).get(week_of(train)).content.decode()
    assert "conflict-badge" not in quiet
    member = train.members.get(service_name="a").release
    service = Service.objects.get(name="a")
    other = release_services.release_create(
        actor=developer,
        service=service,
        environment=service.environments.get(name="prod"),
        version="registry/a:3.0.0",
        title="Hotfix",
        planned_start=member.planned_start,
        planned_end=member.planned_end,
    )
    html = client_as(developer).get(week_of(train)).content.decode()
    assert f"Conflicts with #{other.pk} a → prod (same service and environment)" in html


def test_the_calendar_takes_a_fixed_number_of_queries_with_many_trains(
    client_as, developer, make_train, prod_services
):
    names = [f"svc{index:02d}" for index in range(20)]
    prod_services(names)
    client = client_as(developer)
    first = make_train(members=members_of(names))
    url = week_of(first)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(9):
        make_train(members=members_of(names))
    with CaptureQueriesContext(connection) as ten:
        html = client.get(url).content.decode()
    assert html.count('data-group="train-') == 10
    assert len(ten) == len(one)
    assert len(ten) <= 17


def test_a_feed_holds_a_train_as_one_event_and_its_members_not_at_all(
    client, developer, make_train, union_policies
):
    train = make_train(submit=True)
    feed = calendar_feed_create(actor=developer)
    response = client.get(reverse("releases:ics", args=[feed.token]))
    events = {
        str(event["UID"]): event for event in Calendar.from_ical(response.content).walk("VEVENT")
    }
    assert list(events) == [f"train-{train.pk}@runway"]
    event = events[f"train-{train.pk}@runway"]
    assert str(event["SUMMARY"]) == "Train December train (5) → prod"
    assert str(event["URL"]) == f"http://testserver/trains/{train.pk}/"
    assert str(event["STATUS"]) == "TENTATIVE"
    assert "a@2.0.0, b@2.0.0" in str(event["DESCRIPTION"])
    start = train.members.first().release.planned_start
    assert event.decoded("DTSTART") == start.replace(microsecond=0)
    assert event.decoded("DTEND") == (start + timedelta(hours=2)).replace(microsecond=0)
    assert timezone.now() < start


def test_a_feed_marks_a_rejected_train_cancelled_and_an_approved_one_confirmed(
    client, developer, release_manager, make_train, diamond, union_policies
):
    rejected = make_train("ab", submit=True, name="Rejected")
    services.train_reject(actor=release_manager, train=rejected, comment="Not now")
    union_policies[0].delete()
    union_policies[1].delete()
    approved = make_train("cd", submit=True, name="Approved")
    feed = calendar_feed_create(actor=developer)
    response = client.get(reverse("releases:ics", args=[feed.token]))
    statuses = {
        str(event["UID"]): str(event["STATUS"])
        for event in Calendar.from_ical(response.content).walk("VEVENT")
    }
    assert statuses == {
        f"train-{rejected.pk}@runway": "CANCELLED",
        f"train-{approved.pk}@runway": "CONFIRMED",
    }

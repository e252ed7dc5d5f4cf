"""The inbox a page at a time: 20 items, the counts, and the same releases left out on every
page as the approval policies leave out one release at a time."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Role
from apps.releases.models import (
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    Release,
    ReleaseCommit,
    ReleaseState,
)
from apps.releases.policies import active_policies, approval_status, is_eligible, not_a_decider
from apps.releases.selectors import inbox_queryset
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INBOX = "/releases/inbox/"


def pending_copies(release: Release, count: int, **changes) -> list[Release]:
    """`count` pending releases like this one, an hour apart from tomorrow: written straight to
    the database, as how they got there is not what these tests are about."""
    start = timezone.now() + timedelta(days=1)
    copied = [f.attname for f in Release._meta.concrete_fields if f.attname != "id"]
    rows = []
    for index in range(count):
        row = Release(**{name: getattr(release, name) for name in copied})
        row.title = f"R{index:03d}"
        row.state = ReleaseState.PENDING_APPROVAL
        row.planned_start = start + timedelta(hours=index)
        row.planned_end = row.planned_start + timedelta(minutes=30)
        for name, value in changes.items():
            setattr(row, name, value)
        rows.append(row)
    return Release.objects.bulk_create(rows)


def listed(client, page: int = 1) -> tuple[list[int], str]:
    response = client.get(INBOX, {"page": page})
    assert response.status_code == 200
    items = response.context["items"]
    return [item["release"].pk for item in items], response.content.decode()


def shown_range(html: str) -> str:
    found = re.search(r'data-testid="inbox-range">([^<]*)<', html)
    return found.group(1) if found else ""


def test_page_two_shows_items_21_to_40_and_the_counts(
    client_as, make_release, release_manager, prod_policy
):
    releases = pending_copies(make_release(), 110)
    client = client_as(release_manager)

    first, html = listed(client, 1)
    assert first == [release.pk for release in releases[:20]]
    assert shown_range(html) == "1–20 of 110 awaiting you"
    assert "Page 1 of 6" in html

    second, html = listed(client, 2)
    assert second == [release.pk for release in releases[20:40]]
    assert shown_range(html) == "21–40 of 110 awaiting you"
    assert 'href="?&page=1"' in html and 'href="?&page=3"' in html

    last, html = listed(client, 6)
    assert last == [release.pk for release in releases[100:]]
    assert shown_range(html) == "101–110 of 110 awaiting you"


def test_a_page_out_of_range_shows_the_last_one(
    client_as, make_release, release_manager, prod_policy
):
    releases = pending_copies(make_release(), 55)
    assert listed(client_as(release_manager), 9)[0] == [r.pk for r in releases[40:]]


def test_an_inbox_with_nothing_waiting_has_no_range_and_no_pager(client_as, release_manager):
    html = client_as(release_manager).get(INBOX).content.decode()
    assert "Nothing waits for you." in html
    assert not shown_range(html)
    assert 'aria-label="Pages"' not in html


@pytest.mark.parametrize("page", [1, 2])
def test_a_page_costs_the_same_queries_however_many_releases_wait(
    client_as, make_release, release_manager, prod_policy, page
):
    template = make_release()
    pending_copies(template, 101)
    client = client_as(release_manager)
    client.get(INBOX)  # the session and caches settle
    with CaptureQueriesContext(connection) as fewer:
        assert len(listed(client, page)[0]) == 20
    pending_copies(template, 400)
    with CaptureQueriesContext(connection) as many:
        assert len(listed(client, page)[0]) == 20
    assert len(many) == len(fewer)


def awaits_by_the_policies(release: Release, user) -> bool:
    """The rule of apps/releases/policies.py, one release at a time: what the inbox's SQL
    must agree with."""
    if any(a.approver_id == user.pk and a.invalidated_at is None for a in release.approvals.all()):
        return False
    status = approval_status(release, now=timezone.now(), policies=active_policies())
    if not any(not s.satisfied and is_eligible(s.rule, user) for s in status.rules):
        return False
    return not not_a_decider(release, user, status)


def test_every_page_leaves_out_what_separation_of_duties_and_eligibility_leave_out(
    client_as, make_release, release_manager, developer, payments, prod_policy, web
):
    other_managers = [
        UserFactory(username=f"rm{index}", roles=[Role.RELEASE_MANAGER]) for index in range(2)
    ]
    template = make_release()
    # Releases in several kinds, interleaved in time so each page holds some of each.
    mine = pending_copies(template, 30, requester_id=release_manager.pk)
    authored = pending_copies(template, 30)
    ReleaseCommit.objects.bulk_create(
        ReleaseCommit(
            release=release,
            sha=f"{release.pk:08x}",
            author=f"Riley <{release_manager.email.upper()}>",
            committed_at=timezone.now(),
        )
        for release in authored
    )
    near_namesakes = pending_copies(template, 30)  # "riley2" is somebody else
    ReleaseCommit.objects.bulk_create(
        ReleaseCommit(release=r, sha=f"{r.pk:08x}", author="riley2", committed_at=timezone.now())
        for r in near_namesakes
    )
    rule = prod_policy.rules.get()
    decided = pending_copies(template, 30)
    satisfied = pending_copies(template, 30)
    half_way = pending_copies(template, 30)
    Approval.objects.bulk_create(
        [Approval(release=r, approver=release_manager, decision="reject") for r in decided]
        + [
            Approval(release=r, approver=manager, decision="approve", rule=rule)
            for r in satisfied
            for manager in other_managers
        ]
        + [
            Approval(release=r, approver=other_managers[0], decision="approve", rule=rule)
            for r in half_way
        ]
    )
    staging = web.environments.get(name="staging")
    web_staging = pending_copies(template, 30, environment_id=staging.pk)
    # Staging releases of web need payments' lead, whom the release manager is not.
    ApprovalRule.objects.create(
        policy=ApprovalPolicy.objects.create(
            name="Web staging", environment=staging, separation_of_duties=False
        ),
        name="Payments lead",
        team=payments,
    )
    for index, group in enumerate(
        [mine, authored, near_namesakes, decided, satisfied, half_way, web_staging]
    ):
        for position, release in enumerate(group):  # every kind on every page
            Release.objects.filter(pk=release.pk).update(
                planned_start=template.planned_start + timedelta(minutes=7 * position + index)
            )

    expected = [
        release.pk
        for release in inbox_queryset()
        .filter(state=ReleaseState.PENDING_APPROVAL)
        .order_by("planned_start", "pk")
        if awaits_by_the_policies(release, release_manager)
    ]
    assert set(expected) == {r.pk for r in near_namesakes + half_way}

    client = client_as(release_manager)
    seen = []
    for page in (1, 2, 3):
        ids, html = listed(client, page)
        seen += ids
        assert f"of {len(expected)} awaiting you" in shown_range(html)
    assert seen == expected

    # Their requester, in payments, may approve the staging ones: that policy lets them.
    assert listed(client_as(developer), 1)[0] == [release.pk for release in web_staging[:20]]


def test_an_item_lists_the_first_ten_commits_and_says_how_many_more(
    client_as, make_release, developer, release_manager, prod_policy
):
    from apps.releases import services

    commits = [
        {"sha": f"{index:04d}abcdef", "author": "sam", "message": f"Change {index}"}
        for index in range(12)
    ]
    for commit in commits:
        commit["committed_at"] = timezone.now()
    release = services.release_submit(actor=developer, release=make_release(commits=commits))
    html = client_as(release_manager).get(f"/releases/inbox/{release.pk}/details/").content
    html = html.decode()
    assert "12 commits" in html
    assert "Change 9" in html and "Change 10" not in html
    assert f'and 2 more on <a href="/releases/{release.pk}/">its page</a>' in html


def test_a_group_is_one_item_in_its_place_by_planned_start_on_one_page(
    monkeypatch, make_release, release_manager, prod_policy
):
    from apps.releases import groups, selectors

    releases = pending_copies(make_release(), 12)  # an hour apart
    items = [
        {
            "template": "t.html",
            "name": "between 4 and 5",
            "planned_start": releases[4].planned_start + timedelta(minutes=30),
        },
        {"template": "t.html", "name": "with 7", "planned_start": releases[7].planned_start},
    ]
    grouping = groups.Grouping(
        "fake",
        member_ids=lambda: Release.objects.none().values("pk"),
        groups_of=lambda ids: {},
        inbox_items=lambda user, policies: items,
    )
    monkeypatch.setattr(groups, "_groupings", {"fake": grouping})

    def page(number: int) -> list:
        found = selectors.inbox_page(release_manager, number=number, per_page=5)
        assert found.paginator.count == 14
        return [item.get("name") or item["release"].pk for item in found.object_list]

    r = [release.pk for release in releases]
    assert page(1) == r[:5]
    assert page(2) == ["between 4 and 5", r[5], r[6], r[7], "with 7"]  # a tie: releases first
    assert page(3) == r[8:]

"""The "Awaiting my approval" inbox: what a release manager weighs, and deciding in place."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Role, RoleGrant
from apps.catalog.models import Dependency, Environment
from apps.releases import selectors, services
from apps.releases.calendar import services as calendar_services
from apps.releases.models import (
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    Release,
    ReleaseState,
    WindowScope,
)
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

INBOX = "/releases/inbox/"
HTMX = {"HX-Request": "true"}


def reauthenticated(client, user, password):
    client.post("/accounts/login/", {"login": user.username, "password": password})
    client.post("/accounts/reauthenticate/", {"password": password})
    return client


def section(html: str, release: Release, name: str) -> str:
    """One part of one inbox item: rules, risk, diff, conflicts or history."""
    item = re.search(rf'<article[^>]*id="inbox-{release.pk}"(.*?)</article>', html, re.S)
    assert item, f"release #{release.pk} is not in the inbox"
    part = re.search(rf'data-section="{name}"(.*?)</section>', item.group(1), re.S)
    assert part, f"no {name} in the item of release #{release.pk}"
    return re.sub(r"\s+", " ", part.group(1))


def with_details(client, release: Release) -> str:
    """The release's inbox item as it reads once scrolled to: what ships and the history of its
    environment, fetched as the item's placeholder asks, in place of that placeholder."""
    html = client.get(INBOX).content.decode()
    url = f"/releases/inbox/{release.pk}/details/"
    placeholder = re.search(
        rf'<section data-section="details" hx-get="{url}" hx-trigger="intersect once"'
        r' hx-swap="outerHTML">.*?</section>',
        html,
        re.S,
    )
    assert placeholder, f"the item of release #{release.pk} does not load its details"
    fragment = client.get(url, headers=HTMX)
    assert fragment.status_code == 200
    return html.replace(placeholder.group(0), fragment.content.decode())


def finished(release: Release, state: str, *, hours_ago: int) -> Release:
    """Written straight to the database: how it got there is not what these tests are about."""
    Release.objects.filter(pk=release.pk).update(
        state=state, finished_at=timezone.now() - timedelta(hours=hours_ago)
    )
    release.refresh_from_db()
    return release


@pytest.fixture
def staging(web):
    return web.environments.get(name="staging")


@pytest.fixture
def staging_policy(db):
    """Staging needs two release managers too, but no fresh password."""
    policy = ApprovalPolicy.objects.create(name="Staging", environment_kind="staging")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=2
    )
    return policy


@pytest.fixture
def pending_in_staging(make_release, developer, staging, staging_policy):
    return services.release_submit(
        actor=developer, release=make_release(staging, title="Staging checkout")
    )


@pytest.fixture
def ledger(web, payments):
    """A service web depends on, with its own production."""
    service = ServiceFactory(name="ledger", owner=payments)
    Environment.objects.create(
        service=service, name="prod", kind="production", order=1, namespace="ledger-prod"
    )
    Dependency.objects.create(source=web, target_service=service)
    return service


def ledger_release(developer, ledger, release: Release) -> Release:
    return services.release_create(
        actor=developer,
        service=ledger,
        environment=ledger.environments.get(),
        version="registry/ledger:2.0.0",
        title="Ledger",
        planned_start=release.planned_start,
        planned_end=release.planned_end,
    )


# --- What the inbox shows -------------------------------------------------------------------------


def test_the_inbox_shows_rules_risk_diff_conflicts_and_history(
    client_as, make_release, developer, release_manager, prod_policy, ledger
):
    replaced = finished(make_release(version="registry/web:1.3.0"), "succeeded", hours_ago=48)
    failed = finished(make_release(version="registry/web:1.3.1"), "failed", hours_ago=24)
    release = services.release_submit(
        actor=developer,
        release=make_release(
            hours_from_now=5,
            commits=[
                {
                    "sha": "9f2c1e7abc",
                    "author": "sam@example.com",
                    "message": "Fix rounding",
                    "committed_at": timezone.now(),
                }
            ],
        ),
    )
    same = make_release(hours_from_now=5, title="Same slot")
    theirs = ledger_release(developer, ledger, release)

    html = with_details(client_as(release_manager), release)

    rules = section(html, release, "rules")
    assert "Production</strong> · Release managers: 0 of 2, needs 2" in rules
    assert "you can approve" in rules
    risk = section(html, release, "risk")
    assert "Risk: medium" in risk and "Tier 2 service" in risk and "Production environment" in risk
    diff = section(html, release, "diff")
    shipped = '<code title="registry/web:1.3.0">…/web:1.3.0</code>'
    assert shipped in diff and f"(#{replaced.pk})" in diff
    assert '→ <span class="image-ref"><code title="registry/web:1.4.0">…/web:1.4.0</code>' in diff
    assert "1 commit<" in diff
    assert "9f2c1e7abc" in diff and "Fix rounding" in diff
    conflicts = section(html, release, "conflicts")
    assert f"#{same.pk} web → prod</a> overlaps (same service and environment)" in conflicts
    assert f"#{theirs.pk} ledger → prod</a> overlaps (ledger and web depend on each other)" in (
        conflicts
    )
    history = section(html, release, "history")
    assert f"#{replaced.pk}</a>" in history and "Succeeded" in history
    assert f"#{failed.pk}</a>" in history and "Failed" in history
    assert f"#{release.pk}</a>" not in history


def test_a_release_without_conflicts_or_predecessor_says_so(
    client_as, make_release, developer, release_manager, prod_policy
):
    release = services.release_submit(actor=developer, release=make_release())
    html = with_details(client_as(release_manager), release)
    diff = section(html, release, "diff")
    assert 'nothing yet</span> → <span class="image-ref"><code title="registry/web:1.4.0">' in diff
    assert "No overlapping releases." in section(html, release, "conflicts")
    assert "No other releases to prod." in section(html, release, "history")


def test_the_inbox_keeps_a_fixed_number_of_queries_with_30_releases(
    client_as,
    make_release,
    developer,
    release_manager,
    prod_policy,
    payments,
    ledger,
    django_assert_max_num_queries,
):
    # A second rule, for a team, so the viewer's memberships are read too.
    ApprovalRule.objects.create(policy=prod_policy, name="Payments lead", team=payments)
    release_manager.memberships.create(team=payments)
    finished(make_release(version="registry/web:1.3.0"), "succeeded", hours_ago=48)
    finished(make_release(version="registry/web:1.3.1"), "rolled_back", hours_ago=24)

    def submitted(count: int) -> list[Release]:
        made = []
        for index in range(count):
            release = make_release(
                title=f"R{index}",
                hours_from_now=2 + index % 3,  # overlapping one another in three slots
                commits=[
                    {
                        "sha": f"{index:04d}abcdef",
                        "author": "dana@example.com",
                        "message": f"Change {index}",
                        "committed_at": timezone.now(),
                    }
                ],
            )
            made.append(services.release_submit(actor=developer, release=release))
            ledger_release(developer, ledger, release)
        return made

    client = client_as(release_manager)
    submitted(1)
    with CaptureQueriesContext(connection) as one:
        client.get(INBOX)
    submitted(29)
    # session, user; active policies (policies, rules, their users); my roles, my teams, my
    # aliases; the ids of all that await me (and whether they may hold my commits: none do
    # here, or one more query decides); the page's releases and their approvals; conflicts
    # (dependencies, overlapping releases); trains awaiting a decision (none here). What
    # ships and the history come with each item's details
    # (test_an_item_s_details_cost_a_fixed_number...), the emergency changes needing review
    # with theirs (test_the_emergency_changes_needing_review_load_below_the_items).
    with django_assert_max_num_queries(14) as thirty:
        response = client.get(INBOX)
    assert len(response.context["items"]) == 20  # of 30: a page
    assert len(thirty) == len(one)
    html = response.content.decode()
    assert html.count('data-section="conflicts"') == 20
    assert html.count('data-section="details" hx-get=') == 20
    assert "ledger and web depend on each other" in html


def test_an_item_s_details_cost_a_fixed_number_of_queries(
    client_as, make_release, developer, release_manager, prod_policy, django_assert_num_queries
):
    release = services.release_submit(actor=developer, release=make_release())
    for index in range(8):
        finished(make_release(version=f"registry/web:1.3.{index}"), "succeeded", hours_ago=index)
    client = client_as(release_manager)
    # session, user, my roles; the release; its commits, the release it replaces, recent history
    with django_assert_num_queries(7):
        response = client.get(f"/releases/inbox/{release.pk}/details/", headers=HTMX)
    assert response.content.decode().count('class="pill state-succeeded"') == 5


def test_an_item_s_details_are_for_signed_in_readers_only(
    client, client_as, make_release, developer, outsider, prod_policy
):
    release = services.release_submit(actor=developer, release=make_release())
    url = f"/releases/inbox/{release.pk}/details/"
    for response in (client.get(url), client.get(url, headers=HTMX)):
        assert "What ships" not in response.content.decode()
        assert "/accounts/login/" in (response.get("Location") or response["HX-Redirect"])
    developer.is_active = False
    developer.save(update_fields=["is_active"])
    response = client_as(developer).get(url)
    assert "What ships" not in response.content.decode()
    assert response.status_code in (302, 403)
    # Whoever reads releases reads these too: they are what the release's page shows.
    assert client_as(outsider).get(url, headers=HTMX).status_code == 200
    assert client_as(outsider).get("/releases/inbox/999999/details/").status_code == 404


# --- Deciding in place ----------------------------------------------------------------------------


def test_a_release_manager_approves_a_staging_release_in_place(
    client_as, pending_in_staging, release_manager
):
    response = client_as(release_manager).post(
        f"/releases/inbox/{pending_in_staging.pk}/approve/", {"comment": "Looks good"}, headers=HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(
        f'<article class="card inbox-item is-decided" id="inbox-{pending_in_staging.pk}"'
    )
    assert "<html" not in html and "Emergency changes" not in html
    assert "Approved — 1 more approval needed" in html
    approval = pending_in_staging.approvals.get()
    assert (approval.approver, approval.comment) == (release_manager, "Looks good")


def test_the_last_approval_from_the_inbox_says_the_release_is_scheduled(
    client_as, pending_in_staging, release_manager, second_release_manager
):
    services.release_approve(actor=second_release_manager, release=pending_in_staging)
    response = client_as(release_manager).post(
        f"/releases/inbox/{pending_in_staging.pk}/approve/", headers=HTMX
    )
    assert "<strong>Scheduled</strong>" in response.content.decode()
    pending_in_staging.refresh_from_db()
    assert pending_in_staging.state == ReleaseState.SCHEDULED


def test_a_production_approval_from_the_inbox_asks_for_reauthentication_first(
    client, make_release, developer, release_manager, prod_policy, password
):
    release = services.release_submit(actor=developer, release=make_release())
    client.post("/accounts/login/", {"login": release_manager.username, "password": password})
    response = client.post(f"/releases/inbox/{release.pk}/approve/", headers=HTMX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == (
        f"/accounts/reauthenticate/?next=%2Freleases%2Finbox%2F{release.pk}%2Fapprove%2F"
    )
    assert not release.approvals.exists()


def test_without_javascript_a_production_approval_is_redirected_to_reauthenticate(
    client, make_release, developer, release_manager, prod_policy, password
):
    release = services.release_submit(actor=developer, release=make_release())
    client.post("/accounts/login/", {"login": release_manager.username, "password": password})
    response = client.post(f"/releases/inbox/{release.pk}/approve/")
    assert response.status_code == 302
    assert response["Location"] == (
        f"/accounts/reauthenticate/?next=%2Freleases%2Finbox%2F{release.pk}%2Fapprove%2F"
    )
    assert not release.approvals.exists()


def test_a_reauthenticated_release_manager_approves_production_in_place(
    client, make_release, developer, release_manager, prod_policy, password
):
    release = services.release_submit(actor=developer, release=make_release())
    reauthenticated(client, release_manager, password)
    response = client.post(
        f"/releases/inbox/{release.pk}/approve/", {"comment": "ok"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "Approved — 1 more approval needed" in response.content.decode()
    assert release.approvals.get().approver == release_manager


def test_rejecting_without_a_comment_shows_why_in_the_item_and_changes_nothing(
    client_as, pending_in_staging, release_manager
):
    response = client_as(release_manager).post(
        f"/releases/inbox/{pending_in_staging.pk}/reject/", {"comment": "  "}, headers=HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith(
        f'<article class="card inbox-item" id="inbox-{pending_in_staging.pk}"'
    )
    error = re.search(r'data-testid="inbox-error">(.*?)</div>', html, re.S).group(1)
    assert "Say why you reject it: the requester needs to know." in error
    assert 'aria-invalid="true"' in html
    assert 'data-section="conflicts"' in html  # the whole item, still to decide on
    pending_in_staging.refresh_from_db()
    assert pending_in_staging.state == ReleaseState.PENDING_APPROVAL
    assert not Approval.objects.exists()


def test_rejecting_with_a_comment_replaces_the_item_with_rejected(
    client_as, pending_in_staging, release_manager
):
    response = client_as(release_manager).post(
        f"/releases/inbox/{pending_in_staging.pk}/reject/",
        {"comment": "Not during the sale"},
        headers=HTMX,
    )
    html = response.content.decode()
    assert "is-rejected" in html and "<strong>Rejected</strong>" in html
    pending_in_staging.refresh_from_db()
    assert pending_in_staging.state == ReleaseState.REJECTED
    assert pending_in_staging.approvals.get().comment == "Not during the sale"


def test_a_self_approval_from_the_inbox_shows_the_refusal_in_the_item(
    client_as, make_release, developer, staging, staging_policy
):
    RoleGrant.objects.create(user=developer, role=Role.RELEASE_MANAGER)
    release = services.release_submit(actor=developer, release=make_release(staging))
    response = client_as(developer).post(
        f"/releases/inbox/{release.pk}/approve/", {"comment": "mine"}, headers=HTMX
    )
    html = response.content.decode()
    assert f'id="inbox-{release.pk}"' in html
    assert "You requested this release; someone else must approve it." in html
    assert ">mine</textarea>" in html  # what they typed is kept
    assert not release.approvals.exists()


def test_someone_outside_the_approving_group_is_told_so_in_the_item(
    client_as, pending_in_staging, other_developer
):
    response = client_as(other_developer).post(
        f"/releases/inbox/{pending_in_staging.pk}/approve/", headers=HTMX
    )
    assert "You are not in a group that approves this release (Release managers)." in (
        response.content.decode()
    )
    assert not pending_in_staging.approvals.exists()


def test_a_second_decision_is_refused_in_the_item(client_as, pending_in_staging, release_manager):
    client = client_as(release_manager)
    client.post(f"/releases/inbox/{pending_in_staging.pk}/approve/", headers=HTMX)
    response = client.post(
        f"/releases/inbox/{pending_in_staging.pk}/reject/", {"comment": "no"}, headers=HTMX
    )
    assert "You have already decided on this release." in response.content.decode()
    assert pending_in_staging.approvals.count() == 1


def test_without_javascript_a_decision_returns_to_the_inbox(
    client_as, pending_in_staging, release_manager
):
    response = client_as(release_manager).post(f"/releases/inbox/{pending_in_staging.pk}/approve/")
    assert response.status_code == 302 and response["Location"] == INBOX
    assert pending_in_staging.approvals.count() == 1


def test_decisions_are_only_made_by_post(client_as, pending_in_staging, release_manager):
    client = client_as(release_manager)
    assert client.get(f"/releases/inbox/{pending_in_staging.pk}/approve/").status_code == 405
    assert client.get(f"/releases/inbox/{pending_in_staging.pk}/reject/").status_code == 405


def test_deciding_on_a_release_that_does_not_exist_is_404(client_as, release_manager):
    assert client_as(release_manager).post("/releases/inbox/999999/approve/").status_code == 404


# --- The bulk selectors -------------------------------------------------------------------------


def test_conflicts_for_many_releases_take_two_queries_and_match_one_by_one(
    make_release, developer, ledger, django_assert_num_queries
):
    releases = [make_release(hours_from_now=2 + index % 2) for index in range(6)]
    ledger_release(developer, ledger, releases[0])
    with django_assert_num_queries(2):
        bulk = selectors.conflicts_for(releases)
    for release in releases:
        assert [(c.release.pk, c.why) for c in bulk[release.pk]] == [
            (c.release.pk, c.why) for c in selectors.release_conflicts(release)
        ]
    assert len(bulk[releases[0].pk]) == 2 + 1  # two more in its slot, and ledger's


def test_a_conflicting_release_shows_its_names_and_times_at_once_and_loads_the_rest_on_use(
    make_release, developer, ledger, django_assert_num_queries
):
    mine = make_release(hours_from_now=2)
    theirs = ledger_release(developer, ledger, mine)
    [conflict] = selectors.conflicts_for([mine])[mine.pk]
    other = conflict.release
    with django_assert_num_queries(0):
        shown = (other.pk, other.service.name, other.environment.name, other.environment.kind)
        assert shown == (theirs.pk, "ledger", "prod", "production")
        assert (other.version, other.title, other.state) == (theirs.version, "Ledger", theirs.state)
        assert (other.planned_start, other.planned_end) == (mine.planned_start, mine.planned_end)
    with django_assert_num_queries(1):
        assert other.requester_id == developer.pk  # deferred: read when asked for


def test_a_long_release_conflicts_with_a_short_one_that_starts_hours_into_it(make_release):
    start = timezone.now() + timedelta(days=1)

    def at(hours: float, length: float) -> Release:
        begins = start + timedelta(hours=hours)
        return make_release(planned_start=begins, planned_end=begins + timedelta(hours=length))

    long = at(0, 10)
    short = [at(hours, 0.5) for hours in (1, 3, 8, 11)]  # the last starts after it ends
    found = selectors.conflicts_for([long, *short])
    assert [c.release.pk for c in found[long.pk]] == [r.pk for r in short[:3]]
    assert [c.release.pk for c in found[short[2].pk]] == [long.pk]
    assert found[short[3].pk] == []


def test_finished_releases_and_other_environments_do_not_conflict(make_release, staging):
    release = make_release()
    finished(make_release(), "succeeded", hours_ago=0)
    make_release(staging)
    assert selectors.release_conflicts(release) == []


def test_the_release_replaced_is_the_last_success_in_the_environment_other_than_itself(
    make_release,
):
    older = finished(make_release(version="1.0"), "succeeded", hours_ago=48)
    newer = finished(make_release(version="1.1"), "succeeded", hours_ago=24)
    pending = make_release(version="1.2")
    previous = selectors.previous_releases_for([pending, newer, older])
    assert previous == {pending.pk: newer, newer.pk: older, older.pk: newer}


def test_recent_history_is_the_latest_other_releases_of_the_environment(make_release, staging):
    made = [make_release(hours_from_now=-10 * index) for index in range(7)]
    make_release(staging)
    history = selectors.recent_history_for([made[0], made[3]], limit=5)
    assert [r.pk for r in history[made[0].pk]] == [r.pk for r in made[1:6]]
    assert [r.pk for r in history[made[3].pk]] == [r.pk for r in made[:3] + made[4:6]]


# --- Deciding while gates fail --------------------------------------------------------------------


@pytest.fixture
def frozen(pending_in_staging, release_manager):
    """An organisation-wide freeze over the staging release's planned hour, made after it was
    submitted."""
    return calendar_services.freeze_create(
        actor=release_manager,
        name="Incident 4711",
        reason="Payments outage",
        starts_at=pending_in_staging.planned_start - timedelta(hours=1),
        ends_at=pending_in_staging.planned_end + timedelta(hours=1),
        scope=WindowScope.ORGANISATION,
    )


def test_approving_inside_a_freeze_asks_for_a_confirmation_that_names_it_and_records_it(
    client_as, api_as, pending_in_staging, release_manager, second_release_manager, frozen
):
    client = client_as(release_manager)
    page = client.get(f"/releases/{pending_in_staging.pk}/").content.decode()
    asks = page[page.index('data-testid="confirm-risks"') :]
    asks = asks[: asks.index("</fieldset>")]
    assert "These gates fail for the planned start" in asks
    assert "Change window and freezes" in asks and "Incident 4711" in asks

    refused = client.post(f"/releases/{pending_in_staging.pk}/approve/", headers=HTMX)
    assert "Confirm to approve anyway" in refused.content.decode()
    assert "Incident 4711" in refused.content.decode()
    assert not pending_in_staging.approvals.exists()

    client.post(
        f"/releases/{pending_in_staging.pk}/approve/", {"confirm_risks": "on"}, headers=HTMX
    )
    approval = pending_in_staging.approvals.get()
    assert "Change window and freezes" in approval.risks_confirmed
    window = next(g for g in approval.gates if g["gate"] == "Change window and freezes")
    assert not window["passed"] and "Incident 4711" in window["detail"]

    # The API asks the same, naming the field.
    url = f"/api/v1/releases/{pending_in_staging.pk}/approve/"
    api = api_as(second_release_manager)
    response = api.post(url, {}, format="json")
    assert response.status_code == 400 and "confirm_risks" in response.json()
    assert api.post(url, {"confirm_risks": True}, format="json").status_code == 200


# --- Emergency changes needing review -------------------------------------------------------------


def test_the_emergency_changes_needing_review_load_below_the_items(
    client_as, make_release, release_manager
):
    emergency = make_release(title="Hotfix")
    Release.objects.filter(pk=emergency.pk).update(
        change_type="emergency",
        state=ReleaseState.SUCCEEDED,
        retrospective_due_at=timezone.now() - timedelta(hours=1),
    )
    client = client_as(release_manager)
    url = "/releases/inbox/retrospectives/"
    inbox = client.get(INBOX).content.decode()
    assert f'hx-get="{url}" hx-trigger="intersect once"' in inbox
    assert f'<a href="{url}">' in inbox  # without JavaScript, its own page
    assert "Hotfix" not in inbox

    part = client.get(url, headers=HTMX).content.decode()
    assert "<html" not in part
    assert f"#{emergency.pk} Hotfix</a>" in part and "overdue" in part

    page = client.get(url).content.decode()
    assert "<html" in page and f"#{emergency.pk} Hotfix</a>" in page

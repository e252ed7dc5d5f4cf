"""Auto-promotion: Runway itself asks the next environment for a release that succeeded and
soaked in an environment that opts in, once, under the next environment's own rules."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import service_account_token_issue
from apps.accounts.system import SYSTEM_USERNAME, system_account
from apps.audit.models import AuditEvent
from apps.catalog.models import Environment, EnvironmentKind
from apps.releases import services
from apps.releases.models import (
    ApprovalPolicy,
    ApprovalRule,
    Freeze,
    Release,
    ReleaseState,
    WindowScope,
)
from apps.releases.versions.services import version_mark_bad, version_pin, version_unpin
from apps.trains.models import Train, TrainMember
from tests.factories import ServiceFactory

VERSION = "registry/web@sha256:ab12"
COMMITS = [
    {
        "sha": "9f2c1e7aa",
        "author": "kim@example.com",
        "message": "Cache the basket",
        "committed_at": "2026-11-28T10:15:00Z",
    }
]


def finish(release: Release, state=ReleaseState.SUCCEEDED, *, ago=timedelta(hours=2)) -> Release:
    Release.objects.filter(pk=release.pk).update(state=state, finished_at=timezone.now() - ago)
    release.refresh_from_db()
    return release


@pytest.fixture
def dev(web):
    """web's dev: promotes automatically after an hour's soak."""
    environment = web.environments.get(name="dev")
    environment.auto_promote, environment.soak_seconds = True, 3600
    environment.save()
    return environment


@pytest.fixture
def succeeded_in_dev(make_release, dev):
    def make(*, ago=timedelta(hours=2), version=VERSION, **fields) -> Release:
        release = make_release(dev, hours_from_now=-3, version=version, commits=COMMITS, **fields)
        return finish(release, ago=ago)

    return make


def in_staging():
    return Release.objects.filter(environment__name="staging")


@pytest.mark.django_db
def test_runway_promotes_what_soaked_in_an_auto_promoting_environment_once(
    succeeded_in_dev, developer
):
    done = succeeded_in_dev()

    [promoted_id] = services.releases_auto_promote()

    promoted = Release.objects.get(pk=promoted_id)
    runway = system_account()
    assert (promoted.environment.name, promoted.version) == ("staging", VERSION)
    assert promoted.requester == runway
    assert (promoted.promoted_from, promoted.promoted_automatically) == (done, True)
    assert list(promoted.commits.values_list("sha", flat=True)) == ["9f2c1e7aa"]
    assert promoted.state == ReleaseState.SCHEDULED  # submitted: staging asks no approval here
    event = AuditEvent.objects.get(action="release.promote")
    assert event.actor == runway
    assert event.after == {
        "release": promoted.pk,
        "environment": "staging",
        "version": VERSION,
        "automatically": True,
        "requested_by": developer.username,
    }
    assert set(
        AuditEvent.objects.filter(
            target_type="releases.release", target_id=str(promoted.pk)
        ).values_list("actor", flat=True)
    ) == {runway.pk}

    assert services.releases_auto_promote() == []
    assert in_staging().count() == 1


@pytest.mark.django_db
def test_nothing_is_promoted_before_the_soak_is_over_and_it_is_once_it_is(succeeded_in_dev):
    succeeded_in_dev(ago=timedelta(minutes=10))

    assert services.releases_auto_promote() == []
    assert not in_staging().exists()
    assert len(services.releases_auto_promote(now=timezone.now() + timedelta(hours=1))) == 1


@pytest.mark.django_db
def test_an_environment_that_does_not_opt_in_is_not_promoted_from(succeeded_in_dev, dev):
    succeeded_in_dev()
    Environment.objects.filter(pk=dev.pk).update(auto_promote=False)

    assert services.releases_auto_promote() == []
    assert not in_staging().exists()


@pytest.mark.django_db
@pytest.mark.parametrize("state", [ReleaseState.FAILED, ReleaseState.ROLLED_BACK])
def test_a_release_that_failed_or_was_rolled_back_is_not_promoted(succeeded_in_dev, state):
    finish(succeeded_in_dev(), state)

    assert services.releases_auto_promote() == []


@pytest.mark.django_db
def test_a_failure_in_the_environment_since_starts_the_soak_again(
    succeeded_in_dev, make_release, dev
):
    succeeded_in_dev()
    broken = make_release(dev, hours_from_now=-1, version="registry/web@sha256:cd34")
    finish(broken, ReleaseState.FAILED, ago=timedelta(minutes=5))

    assert services.releases_auto_promote() == []
    assert len(services.releases_auto_promote(now=timezone.now() + timedelta(hours=1))) == 1


@pytest.mark.django_db
def test_only_what_runs_now_is_promoted_not_an_older_success(succeeded_in_dev):
    succeeded_in_dev(ago=timedelta(hours=5), version="registry/web@sha256:0ld0")
    newer = succeeded_in_dev(ago=timedelta(hours=2))

    [promoted_id] = services.releases_auto_promote()
    assert Release.objects.get(pk=promoted_id).promoted_from == newer


@pytest.mark.django_db
def test_a_bad_version_is_not_promoted(succeeded_in_dev, web, release_manager):
    succeeded_in_dev()
    version_mark_bad(actor=release_manager, service=web, version=VERSION, reason="Leaks a key")

    assert services.releases_auto_promote() == []
    assert not in_staging().exists()


@pytest.mark.django_db
def test_a_pin_on_another_version_holds_it_and_the_run_after_the_pin_is_lifted_promotes_it(
    succeeded_in_dev, web, release_manager
):
    succeeded_in_dev()
    pin = version_pin(
        actor=release_manager,
        environment=web.environments.get(name="staging"),
        version="registry/web@sha256:9999",
        reason="Investigating a leak",
    )

    assert services.releases_auto_promote() == []
    assert services.releases_auto_promote() == []
    version_unpin(actor=release_manager, pin=pin, reason="The leak is fixed")

    assert len(services.releases_auto_promote()) == 1


@pytest.mark.django_db
def test_a_pin_on_the_same_version_lets_it_through(succeeded_in_dev, web, release_manager):
    succeeded_in_dev()
    version_pin(
        actor=release_manager,
        environment=web.environments.get(name="staging"),
        version=VERSION,
        reason="Hold staging at the cached basket",
    )

    assert len(services.releases_auto_promote()) == 1


@pytest.mark.django_db
def test_a_train_member_is_left_to_its_train(succeeded_in_dev, developer):
    done = succeeded_in_dev()
    train = Train.objects.create(name="December", environment_name="dev", requested_by=developer)
    TrainMember.objects.create(train=train, release=done, service_name="web")

    assert services.releases_auto_promote() == []
    with pytest.raises(ValidationError, match="Part of train"):
        services.release_auto_promote(release=done)


@pytest.mark.django_db
def test_what_a_person_already_promoted_is_not_promoted_again(succeeded_in_dev, developer):
    done = succeeded_in_dev()
    services.release_promote(actor=developer, release=done, submit=True)

    assert services.releases_auto_promote() == []
    assert in_staging().count() == 1


@pytest.mark.django_db
def test_a_rejected_promotion_by_hand_is_not_asked_again_by_runway(succeeded_in_dev, developer):
    done = succeeded_in_dev()
    promoted = services.release_promote(actor=developer, release=done)
    Release.objects.filter(pk=promoted.pk).update(state=ReleaseState.REJECTED)

    assert services.releases_auto_promote() == []
    with pytest.raises(ValidationError, match="promoted already"):
        services.release_auto_promote(release=done)


@pytest.mark.django_db
def test_a_rejected_automatic_promotion_is_not_asked_again(succeeded_in_dev, developer):
    succeeded_in_dev()
    [promoted_id] = services.releases_auto_promote()
    Release.objects.filter(pk=promoted_id).update(state=ReleaseState.REJECTED)

    assert services.releases_auto_promote() == []
    assert in_staging().count() == 1


@pytest.mark.django_db
def test_the_promotion_is_submitted_for_approval_and_its_requester_may_not_approve_it(
    succeeded_in_dev, developer, release_manager, payments
):
    policy = ApprovalPolicy.objects.create(name="Staging", environment_kind="staging")
    ApprovalRule.objects.create(policy=policy, name="Payments", team=payments, required_count=1)
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=1
    )
    succeeded_in_dev()

    [promoted_id] = services.releases_auto_promote()
    promoted = Release.objects.get(pk=promoted_id)
    assert promoted.state == ReleaseState.PENDING_APPROVAL

    # dana asked for the release Runway promoted: under separation of duties, hers to ask.
    with pytest.raises(PermissionDenied, match=f"You requested #{promoted.promoted_from_id}"):
        services.release_approve(actor=developer, release=promoted)
    services.release_approve(actor=release_manager, release=promoted)
    promoted.refresh_from_db()
    assert promoted.state == ReleaseState.PENDING_APPROVAL  # the payments rule still waits


@pytest.mark.django_db
def test_a_freeze_over_the_planned_time_refuses_it_and_leaves_nothing_until_it_ends(
    succeeded_in_dev,
):
    succeeded_in_dev()
    freeze = Freeze.objects.create(
        name="Holiday",
        starts_at=timezone.now() - timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1),
        scope=WindowScope.ORGANISATION,
    )

    assert services.releases_auto_promote() == []
    assert not in_staging().exists()
    assert not AuditEvent.objects.filter(action="release.promote").exists()
    Freeze.objects.filter(pk=freeze.pk).update(ends_at=timezone.now() - timedelta(minutes=1))

    assert len(services.releases_auto_promote()) == 1


@pytest.mark.django_db
def test_a_crash_halfway_leaves_nothing_half_written(succeeded_in_dev, monkeypatch):
    succeeded_in_dev()
    audited = AuditEvent.objects.count()

    def crash(**arguments):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(services, "release_submit", crash)
    with pytest.raises(RuntimeError):
        services.releases_auto_promote()

    assert not in_staging().exists()
    assert AuditEvent.objects.count() == audited
    monkeypatch.undo()
    assert len(services.releases_auto_promote()) == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_promote_once(succeeded_in_dev):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks and concurrent connections")
    succeeded_in_dev()
    start, outcomes = threading.Barrier(2), []

    def run():
        try:
            start.wait()
            outcomes.append(len(services.releases_auto_promote()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == [0, 1]
    assert in_staging().count() == 1


@pytest.mark.django_db
def test_one_run_over_many_pinned_candidates_asks_a_fixed_number_of_queries(
    payments, developer, release_manager, django_assert_max_num_queries
):
    for index in range(25):
        service = ServiceFactory(name=f"svc-{index}", owner=payments, tier=2)
        dev = Environment.objects.create(
            service=service,
            name="dev",
            kind=EnvironmentKind.DEVELOPMENT,
            order=1,
            namespace=f"svc-{index}-dev",
            auto_promote=True,
        )
        staging = Environment.objects.create(
            service=service, name="staging", kind=EnvironmentKind.STAGING, order=2, namespace="s"
        )
        start = timezone.now() - timedelta(hours=3)
        release = services.release_create(
            actor=developer,
            service=service,
            environment=dev,
            version=f"registry/svc-{index}:1.0.0",
            title="Faster",
            planned_start=start,
            planned_end=start + timedelta(hours=1),
        )
        finish(release)
        version_pin(
            actor=release_manager, environment=staging, version="older", reason="Hold the older one"
        )

    with django_assert_max_num_queries(1):
        assert services.releases_auto_promote() == []


@pytest.mark.django_db
def test_a_run_promotes_the_oldest_first_and_no_more_than_its_limit(
    succeeded_in_dev, make_release, payments, developer
):
    first = succeeded_in_dev(ago=timedelta(hours=3))
    api = ServiceFactory(name="api", owner=payments, tier=2)
    api_dev = Environment.objects.create(
        service=api, name="dev", kind="development", order=1, namespace="a", auto_promote=True
    )
    Environment.objects.create(service=api, name="staging", kind="staging", order=2, namespace="b")
    start = timezone.now() - timedelta(hours=3)
    later = services.release_create(
        actor=developer,
        service=api,
        environment=api_dev,
        version="registry/api:2",
        title="Later",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    finish(later, ago=timedelta(hours=2))

    [promoted_id] = services.releases_auto_promote(limit=1)
    assert Release.objects.get(pk=promoted_id).promoted_from == first
    [promoted_id] = services.releases_auto_promote(limit=1)
    assert Release.objects.get(pk=promoted_id).promoted_from == later


@pytest.mark.django_db
def test_the_release_pages_link_the_promotion_and_its_source(
    succeeded_in_dev, client_as, developer
):
    done = succeeded_in_dev()
    [promoted_id] = services.releases_auto_promote()

    page = client_as(developer).get(f"/releases/{promoted_id}/").content.decode()
    assert f'promoted automatically from <a href="/releases/{done.pk}/">#{done.pk}</a>' in page
    assert "requested by" in page
    source = client_as(developer).get(f"/releases/{done.pk}/").content.decode()
    assert f'<a href="/releases/{promoted_id}/">#{promoted_id}</a> in staging (automatically)' in (
        source
    )


@pytest.mark.django_db
def test_runways_account_cannot_sign_in_get_a_token_or_approve(client, platform_admin):
    runway = system_account()

    assert runway.username == SYSTEM_USERNAME
    assert not runway.has_usable_password()
    assert not client.login(username=SYSTEM_USERNAME, password="")
    assert runway.api_tokens.count() == 0
    with pytest.raises(ValidationError, match="Runway's own"):
        service_account_token_issue(actor=platform_admin, account=runway, name="steal")
    assert system_account() == runway  # made once


@pytest.mark.django_db
def test_a_token_of_runways_account_that_somehow_exists_is_not_honoured(client):
    from apps.accounts.models import ApiToken

    key = ApiToken.PREFIX + "planted-by-hand-0123456789"
    ApiToken.objects.create(
        user=system_account(), name="planted", key_hash=ApiToken.hash_key(key), key_hint=key[:9]
    )
    response = client.get("/api/v1/releases/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 401


@pytest.mark.django_db
def test_nobody_makes_a_service_account_that_would_pass_for_runway(platform_admin, payments):
    from apps.accounts.services import service_account_create

    with pytest.raises(ValidationError, match="Runway's own"):
        service_account_create(actor=platform_admin, username=SYSTEM_USERNAME, teams=[payments])


@pytest.mark.django_db
def test_another_service_account_may_not_request_a_release(ci, web):
    start = timezone.now() + timedelta(hours=1)
    with pytest.raises(PermissionDenied):
        services.release_create(
            actor=ci,
            service=web,
            environment=web.environments.get(name="dev"),
            version="registry/web:9",
            title="Sneaky",
            planned_start=start,
            planned_end=start + timedelta(hours=1),
        )


@pytest.mark.django_db
def test_an_environment_opts_in_where_its_soak_is_set(api_as, developer):
    body = {
        "name": "orders-api",
        "owner": "payments",
        "environments": [
            {"name": "staging", "kind": "staging", "soak_seconds": 3600, "auto_promote": True},
            {"name": "prod", "kind": "production"},
        ],
    }
    response = api_as(developer).post("/api/v1/services/", body, format="json")

    assert response.status_code == 201, response.json()
    assert [(e["name"], e["auto_promote"]) for e in response.json()["environments"]] == [
        ("staging", True),
        ("prod", False),
    ]
    assert Environment.objects.get(service__name="orders-api", name="staging").auto_promote


@pytest.mark.django_db
def test_the_api_says_which_release_was_promoted_automatically_from_which(
    succeeded_in_dev, api_as, developer
):
    done = succeeded_in_dev()
    [promoted_id] = services.releases_auto_promote()

    body = api_as(developer).get(f"/api/v1/releases/{promoted_id}/").json()
    assert (body["promoted_from"], body["promoted_automatically"]) == (done.pk, True)
    assert body["requester"] == SYSTEM_USERNAME


@pytest.mark.django_db
def test_the_versions_panel_says_which_environments_promote_automatically(
    dev, client_as, leadership
):
    page = client_as(leadership).get("/catalog/services/web/").content.decode()
    assert page.count('data-testid="auto-promote"') == 1


@pytest.mark.django_db
def test_why_runway_held_a_release_back_is_shown_on_its_page_until_it_is_promoted(
    succeeded_in_dev, client_as, developer
):
    done = succeeded_in_dev()
    freeze = Freeze.objects.create(
        name="Holiday",
        starts_at=timezone.now() - timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1),
        scope=WindowScope.ORGANISATION,
    )

    assert services.releases_auto_promote() == []

    done.refresh_from_db()
    assert "Holiday" in done.auto_promotion_hold
    page = client_as(developer).get(f"/releases/{done.pk}/").content.decode()
    assert "Not promoted automatically to staging:</strong>" in page
    assert "Holiday" in page.split("Not promoted automatically to staging:")[1].split("</div>")[0]
    api = client_as(developer).get(f"/api/v1/releases/{done.pk}/").json()
    assert api["auto_promotion_hold"] == done.auto_promotion_hold

    Freeze.objects.filter(pk=freeze.pk).update(ends_at=timezone.now() - timedelta(minutes=1))
    assert len(services.releases_auto_promote()) == 1

    done.refresh_from_db()
    assert done.auto_promotion_hold == ""
    page = client_as(developer).get(f"/releases/{done.pk}/").content.decode()
    assert "Not promoted automatically" not in page


@pytest.mark.django_db
def test_a_release_runway_never_held_back_says_nothing_of_it(
    succeeded_in_dev, client_as, developer
):
    done = succeeded_in_dev(ago=timedelta(minutes=10))  # still soaking: not tried yet

    assert services.releases_auto_promote() == []

    page = client_as(developer).get(f"/releases/{done.pk}/").content.decode()
    assert "Not promoted automatically" not in page


@pytest.mark.django_db
def test_the_reason_is_not_shown_once_the_environment_stops_promoting_automatically(
    succeeded_in_dev, client_as, developer, dev
):
    done = succeeded_in_dev()
    Release.objects.filter(pk=done.pk).update(auto_promotion_hold="Freeze “Holiday” until …")
    page = client_as(developer).get(f"/releases/{done.pk}/").content.decode()
    assert 'data-testid="auto-promotion-hold"' in page

    Environment.objects.filter(pk=dev.pk).update(auto_promote=False)

    page = client_as(developer).get(f"/releases/{done.pk}/").content.decode()
    assert 'data-testid="auto-promotion-hold"' not in page


def auto_promoting(name: str, team, *, actor, ago: timedelta) -> Release:
    """A service of `team` whose dev promotes automatically, with a release that succeeded there
    `ago`."""
    service = ServiceFactory(name=name, owner=team, tier=2)
    dev = Environment.objects.create(
        service=service, name="dev", kind="development", order=1, namespace="a", auto_promote=True
    )
    Environment.objects.create(
        service=service, name="staging", kind="staging", order=2, namespace="b"
    )
    start = timezone.now() - ago - timedelta(hours=1)
    release = services.release_create(
        actor=actor,
        service=service,
        environment=dev,
        version=f"registry/{name}:2",
        title=name,
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    return finish(release, ago=ago)


@pytest.mark.django_db
def test_releases_held_back_do_not_keep_a_newer_one_waiting(
    payments, search, developer, other_developer
):
    # Two of payments' releases held by a freeze on payments, older than search's: with room
    # for two a run, the second run tries search's before trying payments' again.
    held = [
        auto_promoting(name, payments, actor=developer, ago=timedelta(hours=hours))
        for name, hours in (("cart", 6), ("ledger", 5))
    ]
    newer = auto_promoting("query", search, actor=other_developer, ago=timedelta(hours=2))
    Freeze.objects.create(
        name="payments' migration",
        starts_at=timezone.now() - timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1),
        scope=WindowScope.TEAM,
        team=payments,
    )

    assert services.releases_auto_promote(limit=2) == []  # payments' two, refused
    [promoted] = services.releases_auto_promote(limit=2)
    assert Release.objects.get(pk=promoted).promoted_from == newer
    assert all(Release.objects.get(pk=r.pk).auto_promotion_hold for r in held)


@pytest.mark.django_db
def test_the_candidates_query_also_compiles_for_the_embedded_sqlite_database():
    """`make run` keeps its data in SQLite, where Django multiplies no duration by a column; the
    suite runs on PostgreSQL, so the query is compiled for SQLite here, and its soak sum run."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    from apps.releases.autopromotion import auto_promotion_candidates

    sqlite = DatabaseWrapper({**connection.settings_dict, "NAME": ":memory:"}, alias="sqlite")
    query = auto_promotion_candidates(now=timezone.now()).query
    sql, _ = query.get_compiler(connection=sqlite).as_sql()
    assert "* 1000000" in sql
    with sqlite.cursor() as cursor:
        cursor.execute("SELECT django_format_dtdelta('+', '2026-12-07 10:00:00', 90 * 1000000)")
        assert cursor.fetchone()[0] == "2026-12-07 10:01:30"
    sqlite.close()

"""The releases API: the same service functions as the pages, so the same rules, field-named
errors and nothing half-saved. Personas: dana (payments developer), sam (search developer),
riley and robin (release managers), lee (leadership), ada (platform admin), olly (outsider)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.catalog.models import Environment, EnvironmentKind
from apps.releases import services
from apps.releases.calendar import services as calendar_services
from apps.releases.models import (
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    ChangeWindow,
    Freeze,
    Release,
    ReleaseCheck,
    ReleaseCommit,
    ReleaseState,
    ReleaseTransition,
    StandardChangeTemplate,
)
from apps.releases.versions.services import version_mark_bad
from tests.factories import ServiceFactory, UserFactory

START = timezone.now().replace(microsecond=0) + timedelta(days=3)


# --- Fixtures ---------------------------------------------------------------------------------


def _environments(service, names):
    kinds = {
        "dev": EnvironmentKind.DEVELOPMENT,
        "qa": EnvironmentKind.STAGING,
        "staging": EnvironmentKind.STAGING,
        "prod": EnvironmentKind.PRODUCTION,
    }
    for order, name in enumerate(names, start=1):
        Environment.objects.create(
            service=service, name=name, kind=kinds[name], order=order, namespace=f"ns-{name}"
        )
    return service


@pytest.fixture
def checkout(payments):
    """Team payments' tier-2 service, with dev, staging and prod."""
    service = ServiceFactory(name="checkout", owner=payments, tier=2)
    return _environments(service, ["dev", "staging", "prod"])


@pytest.fixture
def finder(search):
    """Team search's service; only it has a `qa` environment."""
    return _environments(ServiceFactory(name="finder", owner=search, tier=3), ["qa", "prod"])


@pytest.fixture
def robin(db):
    return UserFactory(username="robin", roles=[Role.RELEASE_MANAGER])


@pytest.fixture
def two_release_managers(db):
    """Production needs two release managers."""
    policy = ApprovalPolicy.objects.create(name="Production", environment_kind="production")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=2
    )
    return policy


def release_body(**changes) -> dict:
    return {
        "service": "checkout",
        "environment": "prod",
        "version": "registry/checkout@sha256:abc123",
        "title": "Faster checkout",
        "description": "Caches the basket.",
        "planned_start": START.isoformat(),
        "planned_end": (START + timedelta(hours=1)).isoformat(),
        "commits": [
            {
                "sha": "9f2c1e7aa",
                "author": "dana@example.com",
                "message": "Cache the basket",
                "timestamp": "2026-11-28T10:15:00Z",
            }
        ],
        "links": [{"title": "Pull request", "url": "https://git.example.com/pr/42"}],
        **changes,
    }


@pytest.fixture
def make_pending(developer, checkout, two_release_managers):
    """A production release of checkout, submitted and waiting for two release managers."""

    def make(**fields) -> Release:
        release = services.release_create(
            actor=developer,
            service=checkout,
            environment=checkout.environments.get(name="prod"),
            version=fields.pop("version", "registry/checkout:1.4.0"),
            title="Faster checkout",
            planned_start=fields.pop("planned_start", START),
            planned_end=fields.pop("planned_end", START + timedelta(hours=1)),
            **fields,
        )
        return services.release_submit(actor=developer, release=release)

    return make


def url(release, action="") -> str:
    return f"/api/v1/releases/{release.pk}/" + (f"{action}/" if action else "")


def assert_unchanged(release, *, state=ReleaseState.PENDING_APPROVAL, approvals=0):
    release.refresh_from_db()
    assert release.state == state
    assert release.approvals.count() == approvals
    assert list(release.transitions.values_list("to_state", flat=True)) == ["pending_approval"]


# --- Creating ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_developer_requests_a_release_with_its_commits_and_links(api_as, developer, checkout):
    response = api_as(developer).post("/api/v1/releases/", release_body(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "draft" and body["requester"] == "dana"
    assert (body["service"], body["team"], body["environment"]) == ("checkout", "payments", "prod")
    assert body["risk"] == "medium"
    assert body["risk_reasons"] == ["Tier 2 service", "Production environment"]
    assert body["commits"] == [
        {
            "sha": "9f2c1e7aa",
            "author": "dana@example.com",
            "message": "Cache the basket",
            "timestamp": "2026-11-28T10:15:00Z",
        }
    ]
    assert body["links"] == [{"title": "Pull request", "url": "https://git.example.com/pr/42"}]
    release = Release.objects.get()
    assert release.planned_start == START
    assert AuditEvent.objects.filter(action="release.create", actor=developer).count() == 1


@pytest.mark.django_db
def test_submit_true_submits_it_right_away(api_as, developer, checkout, two_release_managers):
    response = api_as(developer).post("/api/v1/releases/", release_body(submit=True), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "pending_approval"
    assert [(t["from_state"], t["to_state"]) for t in body["transitions"]] == [
        ("draft", "pending_approval")
    ]
    assert body["approval_status"]["summary"] == "Waiting for 2 from Release managers"


@pytest.mark.django_db
def test_a_standard_change_from_its_template_is_scheduled_without_approval(
    api_as, developer, checkout, two_release_managers
):
    template = StandardChangeTemplate.objects.create(
        name="Config bump", service=checkout, environment_kind="production"
    )
    body = release_body(change_type="standard", standard_template=template.pk, submit=True)
    response = api_as(developer).post("/api/v1/releases/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["standard_template"] == {"id": template.pk, "name": "Config bump"}
    assert response.json()["state"] == "scheduled"
    assert not Approval.objects.exists()


@pytest.mark.django_db
def test_a_refused_submission_creates_nothing(api_as, developer, release_manager, checkout):
    calendar_services.freeze_create(
        actor=release_manager,
        name="Year end",
        starts_at=START - timedelta(days=1),
        ends_at=START + timedelta(days=1),
        scope="organisation",
    )
    client = api_as(developer)
    events = AuditEvent.objects.count()
    for _retry in range(2):
        response = client.post("/api/v1/releases/", release_body(submit=True), format="json")
        assert response.status_code == 400
        assert "Year end" in response.json()["planned_start"][0]
    assert not Release.objects.exists() and not ReleaseCommit.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_a_version_marked_bad_is_a_400_naming_the_version(api_as, developer, checkout):
    version_mark_bad(
        actor=developer,
        service=checkout,
        version="registry/checkout@sha256:abc123",
        reason="Charges every basket twice",
    )
    response = api_as(developer).post("/api/v1/releases/", release_body(), format="json")
    assert response.status_code == 400
    assert "Charges every basket twice" in response.json()["version"][0]
    assert not Release.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"service": "nope"}, "service", "No service is called “nope”."),
        ({"environment": "moon"}, "environment", "checkout has no environment called “moon”."),
        ({"environment": "qa"}, "environment", "checkout has no environment called “qa”."),
        (
            {"planned_end": (START - timedelta(minutes=5)).isoformat()},
            "planned_end",
            "The end must be after the start.",
        ),
        (
            {"change_type": "emergency", "justification": ""},
            "justification",
            "An emergency change needs a written justification.",
        ),
        (
            {"change_type": "standard"},
            "standard_template",
            "A standard change is made from an active pre-approved template.",
        ),
        ({"change_type": "whenever"}, "change_type", None),
        ({"change_type": "standard", "standard_template": 999}, "standard_template", None),
        ({"planned_start": "next tuesday"}, "planned_start", None),
        ({"commits": [{"sha": "abc", "author": "dana"}]}, "commits", None),
        ({"links": [{"title": "PR", "url": "not a url"}]}, "links", None),
        (
            {"commits": [release_body()["commits"][0]] * 2},
            "commits",
            "The same commit is listed twice.",
        ),
        ({"version": ""}, "version", None),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(
    api_as, developer, checkout, finder, changes, field, message
):
    response = api_as(developer).post("/api/v1/releases/", release_body(**changes), format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body, body
    if message:
        assert body[field] == [message]
    assert not Release.objects.exists() and not ReleaseCommit.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["other_developer", "leadership", "outsider"])
def test_only_the_owning_team_requests_releases(api_as, request, checkout, persona):
    user = request.getfixturevalue(persona)
    response = api_as(user).post("/api/v1/releases/", release_body(), format="json")
    assert response.status_code == 403
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_signing_in_is_required(api_client, checkout):
    assert api_client.get("/api/v1/releases/").status_code == 401
    response = api_client.post("/api/v1/releases/", release_body(), format="json")
    assert response.status_code == 401
    assert not Release.objects.exists()


# --- Editing ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_owning_team_edits_a_draft_and_only_what_is_sent_changes(api_as, developer, checkout):
    client = api_as(developer)
    release_id = client.post("/api/v1/releases/", release_body(), format="json").json()["id"]
    response = client.patch(
        f"/api/v1/releases/{release_id}/",
        {"title": "Faster checkout, cached", "links": []},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["title"], body["links"], body["state"]) == ("Faster checkout, cached", [], "draft")
    assert body["description"] == "Caches the basket."
    assert [commit["sha"] for commit in body["commits"]] == ["9f2c1e7aa"]
    event = AuditEvent.objects.get(action="release.update")
    assert event.actor == developer
    assert (event.before["title"], event.after["title"]) == (
        "Faster checkout",
        "Faster checkout, cached",
    )


@pytest.mark.django_db
def test_changing_what_ships_after_approval_asks_for_approval_again(
    api_as, make_pending, developer, release_manager, robin
):
    release = make_pending()
    services.release_approve(actor=release_manager, release=release)
    services.release_approve(actor=robin, release=release)
    release.refresh_from_db()
    assert release.state == ReleaseState.SCHEDULED
    response = api_as(developer).patch(
        url(release), {"version": "registry/checkout:1.4.1"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["version"], body["state"]) == ("registry/checkout:1.4.1", "pending_approval")
    assert all(approval["invalidated_at"] for approval in body["approvals"])
    assert AuditEvent.objects.filter(action="release.approvals_invalidated").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"planned_end": (START - timedelta(minutes=5)).isoformat()},
            "planned_end",
            "The end must be after the start.",
        ),
        (
            {"change_type": "emergency", "justification": ""},
            "justification",
            "An emergency change needs a written justification.",
        ),
        ({"version": ""}, "version", None),
        ({"commits": [{"sha": "abc", "author": "dana"}]}, "commits", None),
        ({"service": "finder"}, "service", "This field cannot be changed here."),
        ({"state": "approved"}, "state", "This field cannot be changed here."),
        ({}, "non_field_errors", "Send at least one field to change."),
    ],
)
def test_a_bad_edit_is_refused_naming_the_field_and_nothing_is_saved(
    api_as, make_pending, developer, changes, field, message
):
    release = make_pending()
    response = api_as(developer).patch(url(release), changes, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body, body
    if message:
        assert body[field] == [message]
    release.refresh_from_db()
    assert (release.version, release.planned_end) == (
        "registry/checkout:1.4.0",
        START + timedelta(hours=1),
    )
    assert release.commits.count() == 0
    assert not AuditEvent.objects.filter(action="release.update").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["other_developer", "release_manager", "leadership"])
def test_only_the_owning_team_edits_a_release(api_as, request, make_pending, persona):
    release = make_pending()
    user = request.getfixturevalue(persona)
    response = api_as(user).patch(url(release), {"title": "Mine now"}, format="json")
    assert response.status_code == 403
    release.refresh_from_db()
    assert release.title == "Faster checkout"


@pytest.mark.django_db
def test_a_release_in_progress_cannot_be_edited(api_as, make_pending, developer):
    release = make_pending()
    Release.objects.filter(pk=release.pk).update(state=ReleaseState.IN_PROGRESS)
    response = api_as(developer).patch(url(release), {"title": "Too late"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": ["A release that is in progress cannot be edited."]}
    assert (
        api_as(developer).patch("/api/v1/releases/999999/", {"title": "x"}, "json").status_code
        == 404
    )


# --- Reading ----------------------------------------------------------------------------------


def many_releases(count: int, requester) -> None:
    """`count` releases over several teams' services, written directly: only their number
    matters here."""
    teams = ["payments", "search", "data"]
    environments = []
    for slug in teams:
        service = ServiceFactory(name=f"bulk-{slug}", owner__slug=slug, tier=2)
        _environments(service, ["staging", "prod"])
        environments += list(service.environments.all())
    Release.objects.bulk_create(
        Release(
            service_id=environments[i % len(environments)].service_id,
            environment=environments[i % len(environments)],
            version=f"v{i}",
            title=f"Release {i}",
            planned_start=START + timedelta(hours=i),
            planned_end=START + timedelta(hours=i, minutes=30),
            requester=requester,
            state=[ReleaseState.DRAFT, ReleaseState.SCHEDULED][i % 2],
        )
        for i in range(count)
    )


@pytest.mark.django_db
def test_the_list_is_paginated_and_keeps_a_fixed_query_budget(
    api_as, developer, release_manager, django_assert_num_queries
):
    many_releases(120, release_manager)
    client = api_as(developer)
    # Session, user, count, page: the same four with 120 rows as with one.
    with django_assert_num_queries(4):
        body = client.get("/api/v1/releases/", {"page_size": 200}).json()
    assert body["count"] == 120 and len(body["results"]) == 120
    starts = [row["planned_start"] for row in body["results"]]
    assert starts == sorted(starts, reverse=True)
    with django_assert_num_queries(4):
        page = client.get("/api/v1/releases/").json()
    assert len(page["results"]) == 50 and page["next"]


@pytest.mark.django_db
def test_the_list_filters_like_the_releases_page(
    api_as, developer, release_manager, django_assert_num_queries
):
    many_releases(120, release_manager)
    client = api_as(developer)
    with django_assert_num_queries(4):
        body = client.get(
            "/api/v1/releases/", {"team": "payments", "state": "scheduled", "page_size": 200}
        ).json()
    assert body["count"] == 20
    assert {(r["team"], r["state"]) for r in body["results"]} == {("payments", "scheduled")}
    # `mine` also reads the caller's teams: one more query.
    with django_assert_num_queries(5):
        mine = client.get("/api/v1/releases/", {"mine": "true", "page_size": 200}).json()
    assert mine["count"] == 40 and {r["team"] for r in mine["results"]} == {"payments"}
    until = (START + timedelta(hours=10)).isoformat()
    since = client.get("/api/v1/releases/", {"until": until, "environment": "prod"}).json()
    assert since["count"] == 5 and {r["environment"] for r in since["results"]} == {"prod"}
    bad = client.get("/api/v1/releases/", {"state": "sideways"})
    assert bad.status_code == 400 and "state" in bad.json()


@pytest.mark.django_db
def test_the_detail_shows_commits_approvals_checks_history_gates_risk_and_conflicts(
    api_as, make_pending, developer, release_manager, leadership, ci, django_assert_max_num_queries
):
    two_release_managers = ApprovalPolicy.objects.get()
    two_release_managers.required_checks = ["tests"]
    two_release_managers.save()
    release = make_pending(
        commits=[{"sha": "aaa111", "author": "dana", "message": "m", "timestamp": START}]
    )
    overlapping = make_pending(version="registry/checkout:1.4.1")
    services.release_approve(actor=release_manager, release=release, comment="Looks good")
    services.release_check_report(
        actor=ci, release=release, name="tests", status="passed", summary="412 passed"
    )
    for name in ("lint", "scan", "provenance", "e2e"):
        services.release_check_report(actor=ci, release=release, name=name, status="pending")
    client = api_as(leadership)
    # One release: its gates include who its commit authors are (people, aliases) and the
    # trust policies covering its artifact; its `actions` read the caller's roles and the train
    # the release may belong to.
    with django_assert_max_num_queries(25):
        response = client.get(url(release))
    assert response.status_code == 200
    body = response.json()
    assert [c["sha"] for c in body["commits"]] == ["aaa111"]
    (approval,) = body["approvals"]
    assert approval["approver"] == "riley" and approval["comment"] == "Looks good"
    assert approval["rule"]["name"] == "Release managers"
    assert approval["rule"]["policy"]["name"] == "Production"
    checks = {check["name"]: check for check in body["checks"]}
    assert len(checks) == 5 and checks["tests"]["status"] == "passed"
    assert {check["reported_by"] for check in checks.values()} == {"ci-payments"}
    assert [t["to_state"] for t in body["transitions"]] == ["pending_approval"]
    assert body["transitions"][0]["actor"] == "dana"
    gates = {gate["key"]: gate for gate in body["gates"]}
    assert gates["approvals"]["passed"] is False
    assert gates["approvals"]["detail"] == "Waiting for 1 from Release managers"
    assert gates["check:tests"]["passed"] is True
    assert (
        gates["promotion"]["detail"] == "registry/checkout:1.4.0 has not succeeded in staging yet"
    )
    assert body["approval_status"]["rules"][0]["approvers"] == ["riley"]
    assert body["approval_status"]["rules"][0]["missing"] == 1
    assert body["risk"] == "medium" and "Production environment" in body["risk_reasons"]
    assert body["conflicts"] == [
        {
            "id": overlapping.pk,
            "service": "checkout",
            "environment": "prod",
            "version": "registry/checkout:1.4.1",
            "state": "pending_approval",
            "planned_start": body["planned_start"],
            "planned_end": body["planned_end"],
            "why": "same service and environment",
        }
    ]
    assert client.get("/api/v1/releases/999999/").status_code == 404


@pytest.mark.django_db
def test_the_evidence_pack_is_the_pages_json(api_as, make_pending, release_manager, leadership):
    release = make_pending()
    services.release_approve(actor=release_manager, release=release, comment="ok")
    response = api_as(leadership).get(url(release, "evidence"))
    assert response.status_code == 200
    pack = response.json()
    assert pack["release"]["id"] == release.pk and pack["requested_by"] == "dana"
    assert pack["approvals"][0]["policy"] == "Production"
    assert [h["to"] for h in pack["history"]] == ["pending_approval"]
    actions = [event["action"] for event in pack["audit_events"]]
    assert actions == ["release.create", "release.transition", "release.approve"]
    seals = [event["seal"] for event in pack["audit_events"]]
    assert [seal["seq"] for seal in seals] == sorted(seal["seq"] for seal in seals)
    assert all(len(seal["mac"]) == 64 for seal in seals)
    # The pack carries a signed checkpoint covering every event in it.
    checkpoint = pack["audit_checkpoint"]
    assert checkpoint["seq"] >= seals[-1]["seq"] and checkpoint["signature"]


# --- Deciding ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_release_managers_approve_and_the_release_is_scheduled(
    api_as, make_pending, release_manager, robin
):
    release = make_pending()
    first = api_as(release_manager).post(url(release, "approve"), {"comment": "ok"}, format="json")
    assert first.status_code == 200, first.json()
    assert first.json()["state"] == "pending_approval"
    # A production approval: the browser asks for a fresh password first, the API does not.
    second = api_as(robin).post(url(release, "approve"), {}, format="json")
    assert second.status_code == 200, second.json()
    body = second.json()
    assert body["state"] == "scheduled"
    assert [a["approver"] for a in body["approvals"]] == ["riley", "robin"]
    assert {a["rule"]["name"] for a in body["approvals"]} == {"Release managers"}
    assert [t["to_state"] for t in body["transitions"]] == [
        "pending_approval",
        "approved",
        "scheduled",
    ]
    assert AuditEvent.objects.filter(action="release.approve").count() == 2


@pytest.mark.django_db
def test_it_rejects_self_approval(api_as, payments, checkout, two_release_managers):
    both = UserFactory(
        username="max", roles=[Role.DEVELOPER, Role.RELEASE_MANAGER], teams=[payments]
    )
    release = services.release_create(
        actor=both,
        service=checkout,
        environment=checkout.environments.get(name="prod"),
        version="registry/checkout:2.0.0",
        title="Own release",
        planned_start=START,
        planned_end=START + timedelta(hours=1),
    )
    release = services.release_submit(actor=both, release=release)
    response = api_as(both).post(url(release, "approve"), {}, format="json")
    assert response.status_code == 403
    # Who may not decide is told so first, as a 403 (apps/releases/transitions.py).
    assert response.json() == {
        "detail": "You requested this release; someone else must approve it."
    }
    assert_unchanged(release)


@pytest.mark.django_db
def test_it_rejects_approval_by_a_commit_author(api_as, make_pending, release_manager):
    release = make_pending(
        commits=[{"sha": "bbb222", "author": "riley@example.com", "timestamp": START}]
    )
    response = api_as(release_manager).post(url(release, "approve"), {}, format="json")
    assert response.status_code == 403
    assert "You wrote commit bbb222" in response.json()["detail"]
    assert_unchanged(release)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["other_developer", "leadership", "outsider", "developer"])
def test_it_refuses_approval_from_outside_the_eligible_group(
    api_as, request, make_pending, persona
):
    release = make_pending()
    response = api_as(request.getfixturevalue(persona)).post(url(release, "approve"), format="json")
    assert response.status_code == 403
    assert response.json()["detail"] in (
        "You are not in a group that approves this release (Release managers).",
        "You requested this release; someone else must approve it.",
    )
    assert_unchanged(release)


@pytest.mark.django_db
def test_it_refuses_approving_twice(api_as, make_pending, release_manager):
    release = make_pending()
    client = api_as(release_manager)
    assert client.post(url(release, "approve"), format="json").status_code == 200
    again = client.post(url(release, "approve"), format="json")
    assert again.status_code == 400
    assert again.json() == {"detail": ["You have already decided on this release."]}
    assert_unchanged(release, approvals=1)


@pytest.mark.django_db
def test_it_refuses_approving_a_cancelled_release(api_as, make_pending, developer, release_manager):
    release = make_pending()
    services.release_cancel(actor=developer, release=release, reason="Not needed")
    response = api_as(release_manager).post(url(release, "approve"), format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": ["A release that is cancelled cannot be approved."]}
    release.refresh_from_db()
    assert release.state == ReleaseState.CANCELLED and not release.approvals.exists()


@pytest.mark.django_db
def test_rejecting_needs_a_comment(api_as, make_pending, release_manager):
    release = make_pending()
    for body in ({}, {"comment": "   "}):
        response = api_as(release_manager).post(url(release, "reject"), body, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "comment": ["Say why you reject it: the requester needs to know."]
        }
    assert_unchanged(release)


@pytest.mark.django_db
def test_a_release_manager_rejects_saying_why(api_as, make_pending, release_manager):
    release = make_pending()
    response = api_as(release_manager).post(
        url(release, "reject"), {"comment": "No rollback plan"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "rejected"
    assert body["approvals"][0]["decision"] == "reject"
    assert body["transitions"][-1]["reason"] == "No rollback plan"


@pytest.mark.django_db
def test_rejecting_after_approving_is_refused_not_a_server_error(
    api_as, make_pending, release_manager
):
    release = make_pending()
    client = api_as(release_manager)
    assert client.post(url(release, "approve"), format="json").status_code == 200
    response = client.post(url(release, "reject"), {"comment": "Changed my mind"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": ["You have already decided on this release."]}
    assert_unchanged(release, approvals=1)
    assert not AuditEvent.objects.filter(action="release.reject").exists()


@pytest.mark.django_db
def test_rejecting_from_outside_the_group_is_refused(api_as, make_pending, leadership):
    release = make_pending()
    response = api_as(leadership).post(url(release, "reject"), {"comment": "no"}, format="json")
    assert response.status_code == 403
    assert_unchanged(release)


@pytest.mark.django_db
def test_the_owning_team_cancels_with_a_reason(api_as, make_pending, developer, other_developer):
    release = make_pending()
    refused = api_as(other_developer).post(url(release, "cancel"), {"reason": "x"}, format="json")
    assert refused.status_code == 403
    assert_unchanged(release)
    response = api_as(developer).post(url(release, "cancel"), {"reason": "Wrong build"}, "json")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["transitions"][-1]["reason"] == "Wrong build"
    again = api_as(developer).post(url(release, "cancel"), format="json")
    assert again.status_code == 400
    assert again.json() == {"detail": ["A release that is cancelled cannot become cancelled."]}


@pytest.mark.django_db
def test_a_draft_is_submitted_once(api_as, developer, checkout, two_release_managers):
    client = api_as(developer)
    release_id = client.post("/api/v1/releases/", release_body(), format="json").json()["id"]
    response = client.post(f"/api/v1/releases/{release_id}/submit/")
    assert response.status_code == 200 and response.json()["state"] == "pending_approval"
    again = client.post(f"/api/v1/releases/{release_id}/submit/")
    assert again.status_code == 400
    assert "Only a draft can be submitted" in again.json()["detail"][0]
    assert ReleaseTransition.objects.filter(release_id=release_id).count() == 1
    assert client.post("/api/v1/releases/999999/submit/").status_code == 404


@pytest.mark.django_db
def test_another_team_cannot_submit(api_as, developer, other_developer, checkout):
    release_id = api_as(developer).post("/api/v1/releases/", release_body(), "json").json()["id"]
    response = api_as(other_developer).post(f"/api/v1/releases/{release_id}/submit/")
    assert response.status_code == 403
    assert Release.objects.get().state == ReleaseState.DRAFT


# --- Checks -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ci_reports_checks_with_its_service_accounts_token(
    api_client, make_pending, platform_admin, payments, two_release_managers
):
    two_release_managers.required_checks = ["tests"]
    two_release_managers.save()
    release = make_pending()
    _, _, key = account_services.service_account_create(
        actor=platform_admin, username="ci-payments", teams=[payments], token_name="github"
    )
    ci = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    check = {
        "name": "tests",
        "status": "failed",
        "details_url": "https://ci.example.com/runs/1",
        "summary": "3 failed",
    }
    response = api_client.post(url(release, "checks"), check, format="json", **ci)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "failed"
    assert response.json()["reported_by"] == "ci-payments"
    rerun = {**check, "status": "passed", "summary": "415 passed"}
    assert api_client.post(url(release, "checks"), rerun, format="json", **ci).status_code == 200
    listed = api_client.get(url(release, "checks"), **ci).json()
    assert [(c["name"], c["status"], c["summary"]) for c in listed] == [
        ("tests", "passed", "415 passed")
    ]
    gates = {g["key"]: g for g in api_client.get(url(release), **ci).json()["gates"]}
    assert gates["check:tests"]["passed"] is True
    assert AuditEvent.objects.filter(action="release.check").count() == 2


@pytest.mark.django_db
def test_another_teams_service_account_cannot_report_checks(
    api_client, make_pending, platform_admin, search
):
    release = make_pending()
    _, _, key = account_services.service_account_create(
        actor=platform_admin, username="ci-search", teams=[search]
    )
    response = api_client.post(
        url(release, "checks"),
        {"name": "tests", "status": "passed"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 403
    assert not ReleaseCheck.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("check", "field"),
    [
        ({"name": "tests", "status": "green"}, "status"),
        ({"name": "", "status": "passed"}, "name"),
        ({"name": "tests", "status": "passed", "details_url": "ci"}, "details_url"),
    ],
)
def test_a_malformed_check_is_refused(api_client, make_pending, ci, check, field):
    release = make_pending()
    api_client.force_authenticate(ci)  # as its API token does (a service account has no session)
    response = api_client.post(url(release, "checks"), check, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not ReleaseCheck.objects.exists()


# --- Approval policies ------------------------------------------------------------------------

POLICY = {
    "name": "Checkout production",
    "service": "checkout",
    "environment": "prod",
    "wait_minutes": 30,
    "required_checks": ["tests", "provenance"],
    "rules": [
        {"name": "Payments leads", "required_count": 1, "team": "payments"},
        {"name": "Release managers", "required_count": 2, "role": "release_manager"},
        {"name": "Named", "required_count": 1, "users": ["riley", "robin"]},
    ],
}


@pytest.mark.django_db
def test_a_platform_admin_defines_a_policy_with_nested_rules(
    api_as, platform_admin, checkout, release_manager, robin, leadership
):
    response = api_as(platform_admin).post("/api/v1/approval-policies/", POLICY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["service"], body["environment"], body["environment_kind"]) == (
        "checkout",
        "prod",
        "",
    )
    assert [
        (r["name"], r["required_count"], r["team"], r["role"], r["users"]) for r in body["rules"]
    ] == [
        ("Payments leads", 1, "payments", "", []),
        ("Release managers", 2, None, "release_manager", []),
        ("Named", 1, None, "", ["riley", "robin"]),
    ]
    assert AuditEvent.objects.filter(action="approval_policy.create").count() == 1
    reader = api_as(leadership)
    assert [p["name"] for p in reader.get("/api/v1/approval-policies/").json()["results"]] == [
        "Checkout production"
    ]
    detail = reader.get(f"/api/v1/approval-policies/{body['id']}/").json()
    assert detail["required_checks"] == ["tests", "provenance"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["release_manager", "developer", "leadership"])
def test_only_platform_admins_define_policies(api_as, request, checkout, robin, persona):
    response = api_as(request.getfixturevalue(persona)).post(
        "/api/v1/approval-policies/", POLICY, format="json"
    )
    assert response.status_code == 403
    assert not ApprovalPolicy.objects.exists() and not ApprovalRule.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rules": []}, "rules"),
        ({"rules": [{"name": "Nobody", "required_count": 1}]}, "rules"),
        ({"rules": [{"name": "Ghosts", "team": "ghosts"}]}, "rules"),
        ({"rules": [{"name": "Strangers", "users": ["nobody"]}]}, "rules"),
        ({"rules": [{"name": "Zero", "role": "release_manager", "required_count": 0}]}, "rules"),
        ({"service": None, "environment": None}, "environment_kind"),
        ({"service": None}, "service"),
        ({"environment": "qa"}, "environment"),
        ({"service": None, "environment": None, "environment_kind": "moon"}, "environment_kind"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(
    api_as, platform_admin, checkout, release_manager, robin, changes, field
):
    response = api_as(platform_admin).post(
        "/api/v1/approval-policies/", {**POLICY, **changes}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not ApprovalPolicy.objects.exists() and not ApprovalRule.objects.exists()


@pytest.mark.django_db
def test_a_duplicate_policy_name_is_a_400_on_name(
    api_as, platform_admin, two_release_managers, payments, release_manager, robin
):
    body = {**POLICY, "name": "Production", "service": None, "environment": None}
    body["environment_kind"] = "production"
    response = api_as(platform_admin).post("/api/v1/approval-policies/", body, format="json")
    assert response.status_code == 400 and "name" in response.json()
    assert ApprovalPolicy.objects.count() == 1


# --- Change windows and freezes ---------------------------------------------------------------

WINDOW = {
    "name": "Berlin working hours",
    "kind": "allow",
    "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH",
    "starts_at_local": "2026-01-05T09:00:00",
    "duration_minutes": 480,
    "time_zone": "Europe/Berlin",
    "scope": "team",
    "team": "payments",
}


@pytest.mark.django_db
def test_a_release_manager_creates_a_change_window_in_wall_clock_time(
    api_as, release_manager, payments, leadership
):
    response = api_as(release_manager).post("/api/v1/change-windows/", WINDOW, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["starts_at_local"] == "2026-01-05T09:00:00"
    assert response.json()["team"] == "payments"
    window = ChangeWindow.objects.get()
    assert window.starts_at_local.replace(tzinfo=None).isoformat() == "2026-01-05T09:00:00"
    assert AuditEvent.objects.filter(action="change_window.create").count() == 1
    listed = api_as(leadership).get("/api/v1/change-windows/").json()["results"]
    assert [w["name"] for w in listed] == ["Berlin working hours"]
    detail = api_as(leadership).get(f"/api/v1/change-windows/{window.pk}/").json()
    assert detail["time_zone"] == "Europe/Berlin"


@pytest.mark.django_db
def test_an_offset_on_a_wall_clock_time_is_ignored(api_as, platform_admin, payments):
    body = {**WINDOW, "starts_at_local": "2026-01-05T09:00:00+05:00"}
    response = api_as(platform_admin).post("/api/v1/change-windows/", body, format="json")
    assert response.status_code == 201
    assert response.json()["starts_at_local"] == "2026-01-05T09:00:00"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "every monday"}, "rrule"),
        ({"rrule": "BYDAY=MO"}, "rrule"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"team": None}, "team"),
        ({"team": "ghosts"}, "team"),
        ({"scope": "service", "service": "nope"}, "service"),
        ({"scope": "environment"}, "environment_kind"),
        ({"duration_minutes": 0}, "duration_minutes"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(
    api_as, release_manager, payments, changes, field
):
    response = api_as(release_manager).post(
        "/api/v1/change-windows/", {**WINDOW, **changes}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not ChangeWindow.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["developer", "leadership", "outsider"])
def test_only_release_managers_and_admins_manage_the_calendar(api_as, request, payments, persona):
    client = api_as(request.getfixturevalue(persona))
    assert client.post("/api/v1/change-windows/", WINDOW, format="json").status_code == 403
    freeze = {"name": "x", "starts_at": START, "ends_at": START + timedelta(days=1)}
    freeze["scope"] = "organisation"
    assert client.post("/api/v1/freezes/", freeze, format="json").status_code == 403
    assert not ChangeWindow.objects.exists() and not Freeze.objects.exists()


@pytest.mark.django_db
def test_a_platform_admin_freezes_a_service(api_as, platform_admin, checkout, developer):
    body = {
        "name": "Black Friday",
        "reason": "Peak traffic",
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(days=4)).isoformat(),
        "scope": "service",
        "service": "checkout",
    }
    response = api_as(platform_admin).post("/api/v1/freezes/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["created_by"] == "ada" and response.json()["service"] == "checkout"
    assert AuditEvent.objects.filter(action="freeze.create").count() == 1
    listed = api_as(developer).get("/api/v1/freezes/").json()["results"]
    assert [f["name"] for f in listed] == ["Black Friday"]
    freeze_id = response.json()["id"]
    assert api_as(developer).get(f"/api/v1/freezes/{freeze_id}/").json()["reason"] == "Peak traffic"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": (START - timedelta(hours=1)).isoformat()}, "ends_at"),
        ({"ends_at": START.isoformat()}, "ends_at"),
        ({"scope": "team"}, "team"),
        ({"service": "nope"}, "service"),
        ({"starts_at": "soon"}, "starts_at"),
    ],
)
def test_a_bad_freeze_is_refused_naming_the_field(
    api_as, release_manager, checkout, changes, field
):
    body = {
        "name": "Black Friday",
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(days=4)).isoformat(),
        "scope": "service",
        "service": "checkout",
        **changes,
    }
    response = api_as(release_manager).post("/api/v1/freezes/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Freeze.objects.exists()

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.catalog.models import Environment
from apps.releases import services
from apps.releases.calendar import services as calendar_services
from apps.releases.models import ChangeWindow, Release, ReleaseCommit, ReleaseState, WindowScope
from tests.factories import ServiceFactory


def reauthenticated(client, password):
    client.post("/accounts/reauthenticate/", {"password": password})
    return client


@pytest.mark.django_db
def test_a_developer_requests_and_submits_a_release_from_the_form(client_as, developer, web, prod):
    start = timezone.now() + timedelta(days=1)
    response = client_as(developer).post(
        "/releases/new/",
        {
            "service": "web",
            "environment": prod.pk,
            "version": "registry/web:2.0.0",
            "title": "Launch",
            "change_type": "normal",
            "planned_start": start.strftime("%Y-%m-%dT%H:%M"),
            "planned_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "commits": "abcdef1234 dana@example.com 2026-11-20T10:00:00Z Add launch banner",
            "submit": "1",
        },
    )
    release = Release.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/releases/{release.pk}/"
    assert release.state == ReleaseState.SCHEDULED  # no policy applies
    assert release.commits.get().message == "Add launch banner"


@pytest.mark.django_db
def test_a_bad_commit_line_is_shown_next_to_the_field(client_as, developer, web, prod):
    response = client_as(developer).post(
        "/releases/new/",
        {
            "service": "web",
            "environment": prod.pk,
            "version": "v",
            "title": "t",
            "change_type": "normal",
            "planned_start": "2026-12-01T10:00",
            "planned_end": "2026-12-01T09:00",
            "commits": "justonefield",
        },
    )
    errors = response.context["form"].errors
    assert "commits" in errors
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_the_end_before_start_error_comes_from_the_service_and_names_the_field(
    client_as, developer, web, prod
):
    response = client_as(developer).post(
        "/releases/new/",
        {
            "service": "web",
            "environment": prod.pk,
            "version": "v",
            "title": "t",
            "change_type": "normal",
            "planned_start": "2026-12-01T10:00",
            "planned_end": "2026-12-01T09:00",
        },
    )
    assert "planned_end" in response.context["form"].errors


def form_body(start, **changes) -> dict:
    return {
        "service": "web",
        "version": "registry/web:2.0.0",
        "title": "Launch",
        "change_type": "normal",
        "planned_start": start.strftime("%Y-%m-%dT%H:%M"),
        "planned_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "commits": "abcdef1234 dana@example.com 2026-11-20T10:00:00Z Add launch banner",
        **changes,
    }


@pytest.mark.django_db
def test_submitting_into_a_freeze_from_the_form_names_it_and_leaves_no_draft(
    client_as, developer, release_manager, web, prod
):
    start = timezone.now() + timedelta(days=2)
    calendar_services.freeze_create(
        actor=release_manager,
        name="Black Friday",
        starts_at=start - timedelta(days=1),
        ends_at=start + timedelta(days=1),
        scope=WindowScope.ORGANISATION,
    )
    client = client_as(developer)
    events = AuditEvent.objects.count()
    for _retry in range(2):
        response = client.post("/releases/new/", form_body(start, environment=prod.pk, submit="1"))
        assert response.status_code == 200
        assert "Black Friday" in response.context["form"].errors["planned_start"][0]
    assert Release.objects.count() == 0 and ReleaseCommit.objects.count() == 0
    assert AuditEvent.objects.count() == events
    assert "No releases" in client.get("/releases/").content.decode()


@pytest.mark.django_db
def test_submitting_outside_the_allowed_windows_from_the_form_leaves_no_draft(
    client_as, developer, web, prod
):
    ChangeWindow.objects.create(
        name="Never",
        kind=ChangeWindow.Kind.DENY,
        rrule="FREQ=DAILY",
        starts_at_local=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0),
        duration_minutes=24 * 60,
        time_zone="UTC",
        scope=WindowScope.ORGANISATION,
    )
    start = timezone.now() + timedelta(days=2)
    response = client_as(developer).post(
        "/releases/new/", form_body(start, environment=prod.pk, submit="1")
    )
    assert "Never" in response.context["form"].errors["planned_start"][0]
    assert not Release.objects.exists() and not ReleaseCommit.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="release.").exists()


@pytest.mark.django_db
def test_saving_a_draft_into_a_freeze_is_still_allowed(
    client_as, developer, release_manager, web, prod
):
    start = timezone.now() + timedelta(days=2)
    calendar_services.freeze_create(
        actor=release_manager,
        name="Black Friday",
        starts_at=start - timedelta(days=1),
        ends_at=start + timedelta(days=1),
        scope=WindowScope.ORGANISATION,
    )
    response = client_as(developer).post("/releases/new/", form_body(start, environment=prod.pk))
    release = Release.objects.get()
    assert response["Location"] == f"/releases/{release.pk}/"
    assert release.state == ReleaseState.DRAFT
    assert AuditEvent.objects.filter(action="release.create", actor=developer).count() == 1


@pytest.mark.django_db
def test_leadership_cannot_request_releases(client_as, leadership):
    assert client_as(leadership).get("/releases/new/").status_code == 403


@pytest.mark.django_db
def test_leadership_sees_no_request_button_where_a_developer_does(
    client_as, leadership, developer, other_developer, web
):
    button = 'href="/releases/new/"'
    assert button not in client_as(leadership).get("/releases/").content.decode()
    assert button in client_as(developer).get("/releases/").content.decode()
    link = f'href="/releases/new/?service={web.name}"'
    service_page = reverse("catalog:service-detail", args=[web.name])
    assert link in client_as(developer).get(service_page).content.decode()
    assert link not in client_as(other_developer).get(service_page).content.decode()
    assert link not in client_as(leadership).get(service_page).content.decode()


def test_the_service_field_suggests_a_bounded_few_of_my_own_services(
    client_as, developer, payments, search, django_assert_max_num_queries
):
    for index in range(30):
        ServiceFactory(name=f"pay-{index:02}", owner=payments)
        ServiceFactory(name=f"pay-theirs-{index:02}", owner=search)
    ServiceFactory(name="gateway-pay", owner=payments)
    client = client_as(developer)
    with django_assert_max_num_queries(8):
        html = client.get("/releases/new/services/", {"service": "PAY-1"}).content.decode()
    assert html.count("<option") == 10 and 'value="pay-10"' in html
    assert (
        "theirs" not in client.get("/releases/new/services/", {"service": "pay"}).content.decode()
    )
    html = client.get("/releases/new/services/", {"service": "pay"}).content.decode()
    assert html.count("<option") == 20  # bounded, however many match
    # Names containing the text come after those starting with it.
    html = client.get("/releases/new/services/", {"service": "way-p"}).content.decode()
    assert 'value="gateway-pay"' in html
    # Odd input is bounded and answered, not a 500.
    odd = client.get("/releases/new/services/", {"service": "x" * 10_000 + "%_"})
    assert odd.status_code == 200 and "<option" not in odd.content.decode()


def test_the_environment_field_lists_only_the_chosen_services_environments(
    client_as, developer, other_developer, leadership, web
):
    html = client_as(developer).get("/releases/new/environments/", {"service": "web"})
    options = html.content.decode()
    assert [part.split(">")[1].split("<")[0] for part in options.split("<option")[1:]] == [
        "Choose an environment",
        "dev",
        "staging",
        "prod",
    ]
    # Someone else's service offers nothing to choose, and the form refuses it.
    theirs = client_as(other_developer).get("/releases/new/environments/", {"service": "web"})
    assert theirs.content.decode().count("<option") == 1
    assert client_as(leadership).get("/releases/new/environments/").status_code == 403
    assert client_as(leadership).get("/releases/new/services/").status_code == 403


def test_an_environment_of_another_service_is_refused_by_name(client_as, developer, payments, web):
    other = ServiceFactory(name="api", owner=payments)
    env = Environment.objects.create(service=other, name="prod", kind="production", order=3)
    start = timezone.now() + timedelta(days=2)
    response = client_as(developer).post("/releases/new/", form_body(start, environment=env.pk))
    assert response.status_code == 200
    assert "Pick an environment of the chosen service." in response.content.decode()
    assert not Release.objects.exists()


def test_a_refused_approval_is_shown_in_place(
    client, make_release, platform_admin, prod_policy, password
):
    from apps.accounts.models import Role, RoleGrant

    RoleGrant.objects.create(user=platform_admin, role=Role.RELEASE_MANAGER)
    release = services.release_submit(
        actor=platform_admin, release=make_release(actor=platform_admin)
    )
    client.post("/accounts/login/", {"login": platform_admin.username, "password": password})
    reauthenticated(client, password)
    response = client.post(f"/releases/{release.pk}/approve/", HTTP_HX_REQUEST="true")
    assert "You requested this release" in response.content.decode()
    assert not release.approvals.exists()


@pytest.mark.django_db
def test_rejecting_without_a_comment_says_so(
    client_as, make_release, developer, release_manager, prod_policy, password
):
    release = services.release_submit(actor=developer, release=make_release())
    response = reauthenticated(client_as(release_manager), password).post(
        f"/releases/{release.pk}/reject/", {"comment": ""}, HTTP_HX_REQUEST="true"
    )
    assert "Say why you reject it" in response.content.decode()
    release.refresh_from_db()
    assert release.state == ReleaseState.PENDING_APPROVAL


@pytest.mark.django_db
def test_the_inbox_lists_what_i_may_approve_and_keeps_a_budget(
    client_as,
    make_release,
    developer,
    release_manager,
    prod_policy,
    django_assert_max_num_queries,
):
    releases = [
        services.release_submit(actor=developer, release=make_release(title=f"R{i}"))
        for i in range(25)
    ]
    services.release_approve(actor=release_manager, release=releases[0])
    client = client_as(release_manager)
    # session, user; policies, rules, their users; my roles, my aliases; the ids of all that
    # await me (and whether they may hold my commits: none do here); the page's releases,
    # approvals; conflicts (dependencies, overlapping releases); trains
    with django_assert_max_num_queries(13):
        response = client.get("/releases/inbox/")
    listed = [item["release"].pk for item in response.context["items"]]
    assert releases[0].pk not in listed  # already decided
    assert listed == [release.pk for release in releases[1:21]]  # a page
    assert response.context["page"].paginator.count == 24


@pytest.mark.django_db
def test_the_requester_does_not_see_their_own_release_in_the_inbox(
    client_as, make_release, developer, prod_policy
):
    from apps.accounts.models import Role, RoleGrant

    RoleGrant.objects.create(user=developer, role=Role.RELEASE_MANAGER)
    services.release_submit(actor=developer, release=make_release())
    assert client_as(developer).get("/releases/inbox/").context["items"] == []


@pytest.mark.django_db
def test_the_release_list_keeps_a_query_budget(
    client_as, make_release, leadership, django_assert_max_num_queries
):
    for i in range(60):
        make_release(title=f"R{i}")
    client = client_as(leadership)
    with django_assert_max_num_queries(10):
        response = client.get("/releases/", {"state": "draft"})
    assert len(response.context["page"]) == 50


@pytest.mark.django_db
def test_the_release_list_filters_by_state_chips_a_mine_switch_and_labels_in_words(
    client_as, make_release, developer, other_developer, search, leadership
):
    draft = make_release(title="Ours, a draft")
    submitted = services.release_submit(actor=developer, release=make_release(title="Ours, due"))
    theirs_service = ServiceFactory(name="finder", owner=search)
    env = Environment.objects.create(
        service=theirs_service, name="prod", kind="production", order=1, namespace="finder"
    )
    services.release_create(
        actor=other_developer,
        service=theirs_service,
        environment=env,
        version="registry/finder:2",
        title="Theirs, a draft",
        planned_start=timezone.now() + timedelta(hours=2),
        planned_end=timezone.now() + timedelta(hours=3),
    )
    client = client_as(developer)

    page = client.get("/releases/").content.decode()
    assert '<fieldset class="chips wide"><legend>State</legend>' in page
    assert (
        'type="checkbox" name="state" value="draft"' in page and '<select name="state"' not in page
    )
    assert '<label for="id_team">Team:</label>' in page and "Service owner slug" not in page
    assert 'type="checkbox" name="mine"' in page and "Unknown" not in page

    def titles(**query) -> set[str]:
        response = client.get("/releases/", query)
        return {release.title for release in response.context["page"]}

    assert titles(state=["draft"]) == {"Ours, a draft", "Theirs, a draft"}
    assert titles(state=["draft", submitted.state]) == {
        "Ours, a draft", "Ours, due", "Theirs, a draft"
    }  # fmt: skip
    assert titles(state=["draft"], mine="on") == {draft.title}
    assert titles(team="search") == {"Theirs, a draft"}
    # In a query string the switch also reads true/false, 1/0.
    assert titles(mine="0") == titles(mine="false") == titles()
    assert client_as(leadership).get("/api/v1/releases/", {"mine": "1"}).json()["count"] == 0


def test_the_release_list_shows_what_ships_what_it_replaces_and_how_many_commits(
    client_as, make_release, leadership
):
    shipped = make_release(version="ghcr.io/acme/web:1.3.0", hours_from_now=-30)
    Release.objects.filter(pk=shipped.pk).update(
        state=ReleaseState.SUCCEEDED, finished_at=timezone.now() - timedelta(hours=29)
    )
    commit = {"author": "sam@example.com", "message": "Fix", "committed_at": timezone.now()}
    make_release(
        version="ghcr.io/acme/web:1.4.0-rc.2",
        commits=[{**commit, "sha": "a1b2c3d4"}, {**commit, "sha": "e5f6a7b8"}],
    )
    html = client_as(leadership).get("/releases/", {"state": "draft"}).content.decode()
    row = html[html.index("Faster checkout") :]
    row = row[: row.index("</tr>")]
    cells = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    version, replaces, commits = cells[2:5]
    assert '<code title="ghcr.io/acme/web:1.4.0-rc.2">…/web:1.4.0-rc.2</code>' in version
    assert '<code title="ghcr.io/acme/web:1.3.0">…/web:1.3.0</code>' in replaces
    assert commits == "2"


@pytest.mark.django_db
def test_the_detail_page_shows_the_checklist_and_history(
    client_as, make_release, developer, prod_policy
):
    release = services.release_submit(actor=developer, release=make_release())
    body = client_as(developer).get(f"/releases/{release.pk}/").content.decode()
    assert 'data-gate="approvals"' in body and "Waiting for 2 from Release managers" in body
    assert 'data-gate="promotion"' in body and "has not succeeded in staging" in body
    assert "draft → <strong>pending_approval</strong>" in body


@pytest.mark.django_db
def test_evidence_exports_as_json_from_the_audit_log(
    client_as, make_release, developer, release_manager, second_release_manager, prod_policy
):
    release = services.release_submit(actor=developer, release=make_release())
    services.release_approve(actor=release_manager, release=release, comment="fine")
    services.release_approve(actor=second_release_manager, release=release)
    pack = client_as(developer).get(f"/releases/{release.pk}/evidence/", {"format": "json"}).json()
    assert pack["requested_by"] == "dana"
    assert [(a["approver"], a["rule"]) for a in pack["approvals"]] == [
        ("riley", "Release managers"),
        ("robin", "Release managers"),
    ]
    actions = [event["action"] for event in pack["audit_events"]]
    assert actions[:2] == ["release.create", "release.transition"]
    transitions = [e for e in pack["audit_events"] if e["action"] == "release.transition"]
    assert "scheduled" in [e["after"]["state"] for e in transitions]
    assert all(len(event["seal"]["mac"]) == 64 for event in pack["audit_events"])
    page = client_as(developer).get(f"/releases/{release.pk}/evidence/").content.decode()
    assert "Audit chain checkpoint at export:" in page
    assert "signed with key <code>t1</code>" in page


@pytest.mark.django_db
def test_evidence_keeps_the_gates_as_they_were_at_each_decision_and_at_the_start(
    client_as, make_release, developer, release_manager, second_release_manager, prod_policy, web
):
    shipped = make_release(web.environments.get(name="staging"))  # promotion order: passed
    Release.objects.filter(pk=shipped.pk).update(state=ReleaseState.SUCCEEDED)
    release = services.release_submit(actor=developer, release=make_release())
    services.release_approve(actor=release_manager, release=release)
    services.release_approve(actor=second_release_manager, release=release)
    started, _ = services.release_begin(
        release=release, now=release.planned_start + timedelta(minutes=1)
    )
    assert started
    pack = client_as(developer).get(f"/releases/{release.pk}/evidence/", {"format": "json"}).json()
    first, second = pack["approvals"]
    approvals_gate = lambda gates: next(g for g in gates if g["gate"] == "Approvals")  # noqa: E731
    # Riley saw the release still waiting; Robin's view was taken before their own approval.
    assert not approvals_gate(first["gates"])["passed"]
    assert "1 from Release managers" in approvals_gate(second["gates"])["detail"]
    start = next(h for h in pack["history"] if h["to"] == "in_progress")
    assert approvals_gate(start["gates"])["passed"]
    assert all(h["gates"] == [] for h in pack["history"] if h["to"] != "in_progress")
    page = client_as(developer).get(f"/releases/{release.pk}/evidence/").content.decode()
    assert "At riley's approval" in page and "At the start" in page


@pytest.mark.django_db
def test_the_evidence_page_reads_in_words_and_in_the_viewers_time_zone(
    client_as, make_release, developer, leadership
):
    from apps.releases.models import StandardChangeTemplate

    start = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=3)
    release = make_release(
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        change_type="standard",
        standard_template=StandardChangeTemplate.objects.create(name="Config tweak"),
    )
    services.release_submit(actor=developer, release=release)
    leadership.time_zone = "Asia/Kolkata"
    leadership.save(update_fields=["time_zone"])
    page = client_as(leadership).get(f"/releases/{release.pk}/evidence/").content.decode()
    local = timezone.localtime(start, ZoneInfo("Asia/Kolkata"))
    assert f"{local:%Y-%m-%d} 15:30 IST" in page  # 10:00 UTC, to the minute, in their zone
    assert f"{start:%H:%M:%S}." not in page and "+00:00" not in page  # no raw ISO instants
    assert "No approval needed (standard change)." in page
    assert "Draft → Approved (No approval needed (standard change)), by dana" in page
    assert "Standard (pre-approved)" in page and "Scheduled" in page


@pytest.mark.django_db
def test_the_service_page_shows_its_releases(client_as, make_release, developer):
    release = make_release(title="Panel check")
    body = client_as(developer).get("/catalog/services/web/").content.decode()
    assert f'href="/releases/{release.pk}/"' in body
    assert 'data-panel="releases"' in body

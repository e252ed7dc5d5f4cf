"""One developer can no longer ship to production alone: checks come from CI identities, and an
emergency change to production starts only after an independent approval or an explicit,
paged, reviewed break glass. Personas: dana (payments developer, the requester), ci-payments
(payments' CI), riley and robin (release managers), lee (leadership), ada (platform admin),
sam (search developer)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.core.models import OutboxMessage
from apps.releases import services
from apps.releases.calendar import services as calendar_services
from apps.releases.evidence import release_evidence
from apps.releases.gates import blocking_failures, readiness
from apps.releases.models import BreakGlass, ReleaseCheck, ReleaseState, WindowScope
from apps.releases.selectors import needing_retrospective, releases_due
from apps.releases.tasks import release_notify_task
from apps.releases.transitions import available_actions, release_transition
from tests.factories import UserFactory

REASON = "Card payments fail for every customer; no release manager answers the phone."


def url(release, action: str = "") -> str:
    return f"/api/v1/releases/{release.pk}/" + (f"{action}/" if action else "")


@pytest.fixture
def office_hours(release_manager):
    """Production changes only in one daily hour, six hours away from now: it is never now."""
    hour = (timezone.now().hour + 6) % 24
    return calendar_services.change_window_create(
        actor=release_manager,
        name="Office hours",
        kind="allow",
        rrule="FREQ=DAILY",
        starts_at_local=datetime(2026, 1, 1, hour, 0, tzinfo=UTC),
        duration_minutes=60,
        time_zone="UTC",
        scope=WindowScope.ENVIRONMENT,
        environment_kind="production",
    )


@pytest.fixture
def tests_required(prod_policy):
    prod_policy.required_checks = ["tests"]
    prod_policy.save()
    return prod_policy


@pytest.fixture
def make_emergency(make_release, developer, ci, tests_required, office_hours):
    """Dana's emergency to production, due now (outside office hours), `tests` passed by CI,
    submitted: pending approval, the state in which an emergency may start."""

    def make(environment=None, **fields):
        release = make_release(
            environment,
            hours_from_now=-0.5,
            change_type="emergency",
            justification="Checkout is down for every customer",
            **fields,
        )
        services.release_check_report(actor=ci, release=release, name="tests", status="passed")
        return services.release_submit(actor=developer, release=release)

    return make


def held_by(release) -> list[str]:
    return [gate.key for gate in blocking_failures(readiness(release, now=timezone.now()))]


# --- Checks come from CI identities -----------------------------------------------------------


@pytest.mark.django_db
def test_a_developer_reporting_the_tests_check_themselves_gets_a_403(
    api_as, make_release, developer, tests_required
):
    release = make_release()
    response = api_as(developer).post(
        url(release, "checks"), {"name": "tests", "status": "passed"}, format="json"
    )
    assert response.status_code == 403
    assert "Checks are reported by CI, not by people" in response.json()["detail"]
    assert not ReleaseCheck.objects.exists()
    refusal = AuditEvent.objects.get(action="release.check.refused")
    assert refusal.actor == developer and refusal.target_id == str(release.pk)
    assert "service account" in refusal.after["reason"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["platform_admin", "release_manager"])
def test_no_person_reports_checks_not_even_an_admin(request, make_release, persona):
    with pytest.raises(PermissionDenied, match="not by people"):
        services.release_check_report(
            actor=request.getfixturevalue(persona),
            release=make_release(),
            name="tests",
            status="passed",
        )
    assert AuditEvent.objects.filter(action="release.check.refused").count() == 1


@pytest.mark.django_db
def test_the_owning_teams_service_account_reports_and_is_recorded_on_the_check(make_release, ci):
    release = make_release()
    check = services.release_check_report(actor=ci, release=release, name="tests", status="passed")
    assert check.reported_by == ci
    event = AuditEvent.objects.get(action="release.check")
    assert event.actor == ci and event.after["check"] == "tests"


# --- An emergency to production needs an independent approval ---------------------------------


@pytest.mark.django_db
def test_an_unapproved_emergency_to_production_is_held_outside_office_hours(
    make_emergency, developer
):
    release = make_emergency()
    assert release in releases_due()
    started, release = services.release_begin(release=release)
    assert not started and release.state == ReleaseState.PENDING_APPROVAL
    assert release.hold_reason.startswith("Independent approval: An emergency change")
    assert "or break glass" in release.hold_reason
    assert held_by(release) == ["independent_approval"]


@pytest.mark.django_db
def test_starting_its_rollout_by_hand_is_refused_with_the_same_reason(make_emergency, developer):
    from apps.rollouts.services import rollout_start

    release = make_emergency()
    with pytest.raises(ValidationError, match="Independent approval"):
        rollout_start(actor=developer, release=release)
    assert not release.rollouts.exists()


@pytest.mark.django_db
def test_with_an_independent_approval_it_starts(make_emergency, release_manager):
    release = make_emergency()
    services.release_approve(actor=release_manager, release=release, comment="Seen the fix")
    gates = {gate.key: gate for gate in readiness(release, now=timezone.now())}
    assert gates["independent_approval"].passed
    assert gates["independent_approval"].detail == "Approved by riley"
    started, release = services.release_begin(release=release)
    assert started and release.state == ReleaseState.IN_PROGRESS


@pytest.mark.django_db
def test_an_approval_by_a_commit_author_does_not_count(
    make_emergency, prod_policy, release_manager
):
    # Without separation of duties in the policy, the author may approve, but it still is
    # not an independent approval.
    prod_policy.separation_of_duties = False
    prod_policy.save()
    release = make_emergency(
        commits=[
            {
                "sha": "c0ffee1",
                "author": "Riley <RILEY@example.com>",
                "message": "Fix rounding",
                "committed_at": timezone.now() - timedelta(hours=2),
            }
        ]
    )
    services.release_approve(actor=release_manager, release=release)
    started, release = services.release_begin(release=release)
    assert not started
    assert "not counted: riley wrote a commit" in release.hold_reason
    assert "break_glass" in available_actions(release, release_manager)


@pytest.mark.django_db
def test_an_emergency_outside_production_keeps_starting_without_approval(
    make_emergency, web, developer
):
    release = make_emergency(web.environments.get(name="staging"))
    started, release = services.release_begin(release=release)
    assert started and release.state == ReleaseState.IN_PROGRESS
    assert "break_glass" not in available_actions(release, developer)


# --- Break glass ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_break_glass_lets_it_start_pages_leadership_and_admins_and_requires_a_retrospective(
    make_emergency, developer, leadership, platform_admin, release_manager, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.RELEASE_WEBHOOK_URL = ""
    UserFactory(username="gone", roles=[Role.LEADERSHIP], is_active=False)  # not paged
    release = make_emergency()
    assert "break_glass" in available_actions(release, developer)

    release = services.release_break_glass(actor=developer, release=release, reason=REASON)

    glass = BreakGlass.objects.get(release=release)
    assert (glass.actor, glass.reason, glass.paged) == (developer, REASON, ["ada", "lee"])
    event = AuditEvent.objects.get(action="release.break_glass")
    assert event.actor == developer and event.target_id == str(release.pk)
    assert event.after["reason"] == REASON and event.after["paged"] == ["ada", "lee"]
    # The page goes out through the outbox, after commit; the task mails exactly those paged.
    (page,) = OutboxMessage.objects.filter(task_name="releases.notify", args__1="break_glass")
    assert page.args[0] == release.pk
    release_notify_task(*page.args)
    (message,) = mail.outbox
    assert message.subject.startswith("[Runway] BREAK GLASS:")
    assert set(message.to) == {"dana@example.com", "lee@example.com", "ada@example.com"}
    assert REASON in message.body
    # The retrospective is due, and the release is on the list that chases it.
    assert release.retrospective_state == "due"
    assert list(needing_retrospective()) == [release]
    assert "break_glass" not in available_actions(release, developer)

    started, release = services.release_begin(release=release)
    assert started and release.state == ReleaseState.IN_PROGRESS
    gate = next(g for g in readiness(release, now=timezone.now()) if g.key.startswith("indep"))
    assert gate.detail.startswith("Break glass by dana at ") and REASON in gate.detail


@pytest.mark.django_db
def test_a_release_manager_may_break_glass_too(make_emergency, release_manager):
    release = services.release_break_glass(
        actor=release_manager, release=make_emergency(), reason=REASON
    )
    assert release.glass_broken.actor == release_manager


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   ", "it is urgent"])
def test_break_glass_without_a_real_reason_is_refused_naming_reason(
    make_emergency, developer, reason
):
    release = make_emergency()
    with pytest.raises(ValidationError) as refusal:
        services.release_break_glass(actor=developer, release=release, reason=reason)
    assert "reason" in refusal.value.message_dict
    assert not BreakGlass.objects.exists()
    assert not OutboxMessage.objects.filter(args__1="break_glass").exists()
    assert AuditEvent.objects.filter(action="release.break_glass.refused").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["leadership", "platform_admin", "other_developer", "ci"])
def test_whoever_is_neither_requester_nor_release_manager_may_not_break_glass(
    request, make_emergency, persona
):
    release = make_emergency()
    someone = request.getfixturevalue(persona)
    assert "break_glass" not in available_actions(release, someone)
    with pytest.raises(PermissionDenied, match="requester and release managers"):
        services.release_break_glass(actor=someone, release=release, reason=REASON)
    assert not BreakGlass.objects.exists()
    refusal = AuditEvent.objects.get(action="release.break_glass.refused")
    assert refusal.actor == someone


@pytest.mark.django_db
def test_another_member_of_the_owning_team_may_not_break_glass_for_the_requester(
    make_emergency, payments
):
    colleague = UserFactory(username="devon", roles=[Role.DEVELOPER], teams=[payments])
    with pytest.raises(PermissionDenied):
        services.release_break_glass(actor=colleague, release=make_emergency(), reason=REASON)


@pytest.mark.django_db
def test_there_is_no_glass_to_break_once_an_independent_approval_is_in(
    make_emergency, developer, release_manager, make_release
):
    release = make_emergency()
    services.release_approve(actor=release_manager, release=release)
    with pytest.raises(ValidationError, match="independent approval is already in"):
        services.release_break_glass(actor=developer, release=release, reason=REASON)
    normal = make_release()
    with pytest.raises(ValidationError, match="Only an emergency change to production"):
        services.release_break_glass(actor=developer, release=normal, reason=REASON)


@pytest.mark.django_db
def test_glass_is_broken_once(make_emergency, developer, release_manager):
    release = services.release_break_glass(actor=developer, release=make_emergency(), reason=REASON)
    with pytest.raises(ValidationError, match="dana already broke glass"):
        services.release_break_glass(actor=release_manager, release=release, reason=REASON)
    assert BreakGlass.objects.count() == 1


@pytest.mark.django_db
def test_what_ships_cannot_change_after_glass_was_broken(make_emergency, developer):
    from apps.releases.models import Release

    release = services.release_break_glass(actor=developer, release=make_emergency(), reason=REASON)
    with pytest.raises(ValidationError, match="request a new release"):
        services.release_update(actor=developer, release=release, version="registry/web:9.9.9")
    assert Release.objects.get(pk=release.pk).version == "registry/web:1.4.0"


@pytest.mark.django_db
def test_without_a_production_policy_only_break_glass_starts_an_emergency(make_release, developer):
    release = make_release(
        hours_from_now=-0.5, change_type="emergency", justification="Checkout is down for all"
    )
    release = services.release_submit(actor=developer, release=release)
    assert release.state == ReleaseState.SCHEDULED  # no policy: nothing to approve
    started, release = services.release_begin(release=release)
    assert not started and "only break glass can start it" in release.hold_reason
    release = services.release_break_glass(actor=developer, release=release, reason=REASON)
    started, release = services.release_begin(release=release)
    assert started and release.retrospective_state == "due"


# --- Through the API --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_breaks_glass_and_shows_it_on_the_release(api_as, make_emergency, developer):
    release = make_emergency()
    client = api_as(developer)
    assert "break_glass" in client.get(url(release)).json()["actions"]
    response = client.post(url(release, "break-glass"), {"reason": REASON}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["break_glass"]["by"] == "dana" and body["break_glass"]["reason"] == REASON
    assert body["break_glass"]["paged"] == []  # nobody in leadership or admin exists here
    assert body["retrospective_state"] == "due"
    assert "break_glass" not in body["actions"]
    gates = {gate["key"]: gate for gate in body["gates"]}
    assert gates["independent_approval"]["passed"] is True


@pytest.mark.django_db
def test_the_api_refuses_break_glass_without_a_reason_with_a_400_naming_it(
    api_as, make_emergency, developer
):
    release = make_emergency()
    response = api_as(developer).post(url(release, "break-glass"), {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert not BreakGlass.objects.exists()


@pytest.mark.django_db
def test_the_api_refuses_break_glass_to_leadership_with_a_403(api_as, make_emergency, leadership):
    release = make_emergency()
    response = api_as(leadership).post(
        url(release, "break-glass"), {"reason": REASON}, format="json"
    )
    assert response.status_code == 403
    assert "requester and release managers" in response.json()["detail"]


# --- Evidence ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_evidence_names_the_ci_identity_the_break_glass_and_the_retrospective(
    make_emergency, developer, leadership, ci
):
    release = services.release_break_glass(actor=developer, release=make_emergency(), reason=REASON)
    pack = release_evidence(release)
    (check,) = pack["checks"]
    assert (check["name"], check["reported_by"], check["by_service_account"]) == (
        "tests",
        "ci-payments",
        True,
    )
    glass = pack["emergency"]["break_glass"]
    assert (glass["by"], glass["reason"], glass["paged"]) == ("dana", REASON, ["lee"])
    assert pack["emergency"]["independent_approvals"] == []
    assert pack["retrospective"]["state"] == "due"
    assert pack["retrospective"]["due_at"] == release.retrospective_due_at.isoformat()
    assert "release.break_glass" in [event["action"] for event in pack["audit_events"]]


@pytest.mark.django_db
def test_the_evidence_names_the_independent_approver(make_emergency, release_manager):
    release = make_emergency()
    services.release_approve(actor=release_manager, release=release)
    emergency = release_evidence(release)["emergency"]
    assert [a["approver"] for a in emergency["independent_approvals"]] == ["riley"]
    assert emergency["break_glass"] is None


@pytest.mark.django_db
def test_the_evidence_of_a_normal_release_has_no_emergency_section(make_release):
    pack = release_evidence(make_release())
    assert pack["emergency"] is None and pack["retrospective"]["state"] == "not needed"


# --- The release page -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_requester_sees_a_break_glass_form_that_asks_to_confirm(
    client_as, make_emergency, developer, leadership
):
    release = make_emergency()
    page = client_as(developer).get(f"/releases/{release.pk}/").content.decode()
    assert f'action="/releases/{release.pk}/break-glass/"' in page
    assert 'data-confirm="Break glass on release' in page
    page = client_as(leadership).get(f"/releases/{release.pk}/").content.decode()
    assert "break-glass/" not in page


@pytest.mark.django_db
def test_breaking_glass_on_the_page_flags_the_release(client_as, make_emergency, developer):
    release = make_emergency()
    client = client_as(developer)
    response = client.post(f"/releases/{release.pk}/break-glass/", {"reason": REASON})
    assert response.status_code == 302
    page = client.get(f"/releases/{release.pk}/").content.decode()
    assert 'data-testid="break-glass-flag"' in page and REASON in page
    assert "(mandatory: glass was broken)" in page
    evidence = client.get(f"/releases/{release.pk}/evidence/").content.decode()
    assert "ci-payments" in evidence and "(CI service account)" in evidence
    assert REASON in evidence


@pytest.mark.django_db
def test_a_page_refusal_shows_the_reason_field_error(client_as, make_emergency, developer):
    release = make_emergency()
    response = client_as(developer).post(f"/releases/{release.pk}/break-glass/", {"reason": ""})
    assert response.status_code == 400
    assert "at least 20 characters" in response.content.decode()
    assert not BreakGlass.objects.exists()


@pytest.mark.django_db
def test_the_page_refuses_break_glass_to_others_with_a_403(client_as, make_emergency, leadership):
    release = make_emergency()
    response = client_as(leadership).post(
        f"/releases/{release.pk}/break-glass/", {"reason": REASON}
    )
    assert response.status_code == 403
    assert not BreakGlass.objects.exists()


@pytest.mark.django_db
def test_a_retrospective_approval_after_the_finish_updates_the_audit_facts_it_kept(
    make_emergency, developer, release_manager, second_release_manager
):
    release = services.release_break_glass(actor=developer, release=make_emergency(), reason=REASON)
    started, release = services.release_begin(release=release)
    assert started
    release = release_transition(release=release, to_state=ReleaseState.SUCCEEDED, actor=None)
    release.refresh_from_db()
    # Finished on the glass broken, nobody approved it yet; CI's `tests` passed.
    assert (release.approval_on_record, release.checks_passed) == (False, True)

    services.release_approve(actor=release_manager, release=release)
    release.refresh_from_db()
    assert (release.approval_on_record, release.checks_passed) == (True, True)
    assert release.retrospective_done_at is None  # the policy asks for two
    services.release_approve(actor=second_release_manager, release=release)
    release.refresh_from_db()
    assert release.approval_on_record and release.retrospective_done_at is not None

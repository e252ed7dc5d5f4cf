from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils import timezone

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.core.transitions import IllegalTransition
from apps.releases import services
from apps.releases.gates import blocking_failures, promotion_gate, readiness
from apps.releases.models import (
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    ChangeWindow,
    Release,
    ReleaseCommit,
    ReleaseState,
    StandardChangeTemplate,
    WindowScope,
)
from apps.releases.transitions import release_transition
from tests.factories import UserFactory


def submitted(make_release, developer, **fields):
    release = make_release(**fields)
    return services.release_submit(actor=developer, release=release)


@pytest.mark.django_db
def test_risk_is_computed_with_its_reasons(make_release, web):
    release = make_release(change_type="emergency", justification="Card payments are failing")
    assert release.risk == "high"
    assert release.risk_reasons == [
        "Tier 2 service",
        "Production environment",
        "Emergency change: skips the usual order",
    ]
    dev_release = make_release(web.environments.get(name="dev"))
    assert dev_release.risk == "low"


@pytest.mark.django_db
def test_an_end_before_the_start_is_refused_naming_the_field(make_release):
    start = timezone.now() + timedelta(hours=3)
    with pytest.raises(ValidationError) as error:
        make_release(planned_start=start, planned_end=start - timedelta(minutes=1))
    assert "planned_end" in error.value.message_dict
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_an_environment_of_another_service_is_refused(make_release, payments):
    from apps.catalog.models import Environment
    from tests.factories import ServiceFactory

    other = ServiceFactory(name="other", owner=payments)
    env = Environment.objects.create(
        service=other, name="prod", kind="production", order=1, namespace="x"
    )
    with pytest.raises(ValidationError) as error:
        make_release(env)
    assert "environment" in error.value.message_dict


@pytest.mark.django_db
def test_another_team_cannot_request_a_release(make_release, other_developer):
    with pytest.raises(PermissionDenied):
        make_release(actor=other_developer)


@pytest.mark.django_db
def test_an_emergency_needs_a_justification(make_release):
    with pytest.raises(ValidationError) as error:
        make_release(change_type="emergency")
    assert "justification" in error.value.message_dict


@pytest.mark.django_db
def test_without_a_policy_a_submitted_release_is_scheduled(make_release, developer):
    release = submitted(make_release, developer)
    assert release.state == ReleaseState.SCHEDULED
    states = list(release.transitions.values_list("to_state", flat=True))
    assert states == ["approved", "scheduled"]


def request_kwargs(web, **fields) -> dict:
    start = (timezone.now() + timedelta(days=2)).replace(hour=12, minute=0, second=0)
    return {
        "service": web,
        "environment": web.environments.get(name="prod"),
        "version": "registry/web:2.0.0",
        "title": "Launch",
        "planned_start": start,
        "planned_end": start + timedelta(hours=1),
        "commits": [{"sha": "abcdef1234", "author": "dana", "committed_at": timezone.now()}],
        **fields,
    }


@pytest.mark.django_db
def test_a_request_submitted_at_once_is_created_and_submitted_with_its_audit_rows(
    developer, web, prod_policy
):
    release = services.release_request(actor=developer, submit=True, **request_kwargs(web))
    assert release.state == ReleaseState.PENDING_APPROVAL
    actions = list(
        AuditEvent.objects.filter(target_id=str(release.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["release.create", "release.transition"]


@pytest.mark.django_db
def test_a_request_refused_on_submission_leaves_nothing_behind(developer, web):
    ChangeWindow.objects.create(
        name="Early mornings",
        kind=ChangeWindow.Kind.ALLOW,
        rrule="FREQ=DAILY",
        starts_at_local=datetime(2026, 1, 1, 5, 0, tzinfo=UTC),
        duration_minutes=60,
        time_zone="UTC",
        scope=WindowScope.ORGANISATION,
    )
    with pytest.raises(ValidationError) as error:
        services.release_request(actor=developer, submit=True, **request_kwargs(web))
    assert "Outside the allowed windows" in error.value.message_dict["planned_start"][0]
    assert not Release.objects.exists() and not ReleaseCommit.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_request_by_another_team_leaves_nothing_behind(other_developer, web):
    with pytest.raises(PermissionDenied):
        services.release_request(actor=other_developer, submit=True, **request_kwargs(web))
    assert not Release.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_n_of_m_approvals_from_every_rule(
    make_release, developer, release_manager, second_release_manager, payments, prod_policy
):
    lead = UserFactory(username="lead-dev", roles=[Role.DEVELOPER], teams=[payments])
    ApprovalRule.objects.create(
        policy=prod_policy, name="Payments team", team=payments, required_count=1
    )
    release = submitted(make_release, developer)
    assert release.state == ReleaseState.PENDING_APPROVAL
    services.release_approve(actor=release_manager, release=release)
    services.release_approve(actor=second_release_manager, release=release)
    release.refresh_from_db()
    assert release.state == ReleaseState.PENDING_APPROVAL  # the team rule is still open
    approval = services.release_approve(actor=lead, release=release, comment="LGTM")
    release.refresh_from_db()
    assert approval.rule.name == "Payments team"
    assert release.state == ReleaseState.SCHEDULED
    event = AuditEvent.objects.filter(action="release.approve").latest("id")
    assert event.after["rule"] == "Production: Payments team (1)"


@pytest.mark.django_db
def test_the_requester_cannot_approve_their_own_release(make_release, platform_admin, prod_policy):
    from apps.accounts import services as account_services

    account_services.role_grant(
        actor=platform_admin, user=platform_admin, role=Role.RELEASE_MANAGER
    )
    release = submitted(make_release, platform_admin, actor=platform_admin)
    with pytest.raises(PermissionDenied, match="You requested this release"):
        services.release_approve(actor=platform_admin, release=release)
    assert not Approval.objects.exists()


@pytest.mark.django_db
def test_a_commit_author_cannot_approve(make_release, developer, release_manager, prod_policy):
    release = submitted(
        make_release,
        developer,
        commits=[
            {
                "sha": "a1b2c3d4e5",
                "author": release_manager.email,
                "message": "fix",
                "committed_at": timezone.now() - timedelta(days=1),
            }
        ],
    )
    with pytest.raises(PermissionDenied, match="You wrote commit a1b2c3d4e5"):
        services.release_approve(actor=release_manager, release=release)


@pytest.mark.django_db
def test_separation_of_duties_can_be_switched_off(make_release, platform_admin, prod_policy):
    from apps.accounts import services as account_services

    prod_policy.separation_of_duties = False
    prod_policy.save()
    account_services.role_grant(
        actor=platform_admin, user=platform_admin, role=Role.RELEASE_MANAGER
    )
    release = submitted(make_release, platform_admin, actor=platform_admin)
    assert services.release_approve(actor=platform_admin, release=release).pk


@pytest.mark.django_db
def test_someone_outside_the_eligible_group_cannot_approve(
    make_release, developer, other_developer, prod_policy
):
    release = submitted(make_release, developer)
    with pytest.raises(PermissionDenied, match="not in a group that approves"):
        services.release_approve(actor=other_developer, release=release)


@pytest.mark.django_db
def test_approving_twice_is_refused(make_release, developer, release_manager, prod_policy):
    release = submitted(make_release, developer)
    services.release_approve(actor=release_manager, release=release)
    with pytest.raises(ValidationError, match="already decided"):
        services.release_approve(actor=release_manager, release=release)
    assert Approval.objects.count() == 1


@pytest.mark.django_db
def test_a_cancelled_release_cannot_be_approved(
    make_release, developer, release_manager, prod_policy
):
    release = submitted(make_release, developer)
    services.release_cancel(actor=developer, release=release, reason="not needed")
    with pytest.raises(ValidationError, match="cancelled cannot be approved"):
        services.release_approve(actor=release_manager, release=release)


@pytest.mark.django_db
def test_rejection_needs_a_comment(make_release, developer, release_manager, prod_policy):
    release = submitted(make_release, developer)
    with pytest.raises(ValidationError) as error:
        services.release_reject(actor=release_manager, release=release, comment="  ")
    assert "comment" in error.value.message_dict
    services.release_reject(actor=release_manager, release=release, comment="Needs a canary")
    release.refresh_from_db()
    assert release.state == ReleaseState.REJECTED


@pytest.mark.django_db
def test_expired_approvals_do_not_count(
    make_release, developer, release_manager, second_release_manager, prod_policy
):
    release = submitted(make_release, developer)
    services.release_approve(actor=release_manager, release=release)
    Approval.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    services.release_approve(actor=second_release_manager, release=release)
    release.refresh_from_db()
    assert release.state == ReleaseState.PENDING_APPROVAL


@pytest.mark.django_db
def test_changing_what_ships_invalidates_approvals_and_asks_again(
    make_release, developer, release_manager, second_release_manager, prod_policy
):
    release = submitted(make_release, developer)
    services.release_approve(actor=release_manager, release=release)
    services.release_approve(actor=second_release_manager, release=release)
    release.refresh_from_db()
    assert release.state == ReleaseState.SCHEDULED
    services.release_update(actor=developer, release=release, version="registry/web:1.4.1")
    release.refresh_from_db()
    assert release.state == ReleaseState.PENDING_APPROVAL
    assert Approval.objects.filter(invalidated_at__isnull=True).count() == 0
    assert AuditEvent.objects.filter(action="release.approvals_invalidated").exists()
    services.release_approve(actor=release_manager, release=release)  # may approve again


@pytest.mark.django_db
def test_editing_only_the_description_keeps_approvals(
    make_release, developer, release_manager, prod_policy
):
    release = submitted(make_release, developer)
    services.release_approve(actor=release_manager, release=release)
    services.release_update(actor=developer, release=release, description="more words")
    assert Approval.objects.filter(invalidated_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_a_standard_change_from_a_template_skips_approval(
    make_release, developer, prod_policy, web
):
    template = StandardChangeTemplate.objects.create(
        name="Config bump", environment_kind="production"
    )
    release = submitted(make_release, developer, change_type="standard", standard_template=template)
    assert release.state == ReleaseState.SCHEDULED


@pytest.mark.django_db
def test_a_standard_template_out_of_scope_is_refused(make_release, web):
    template = StandardChangeTemplate.objects.create(
        name="Dev only", environment_kind="development"
    )
    with pytest.raises(ValidationError) as error:
        make_release(change_type="standard", standard_template=template)
    assert "standard_template" in error.value.message_dict


@pytest.mark.django_db
def test_illegal_transitions_are_refused_clearly(make_release):
    release = make_release()
    with pytest.raises(IllegalTransition, match="draft cannot become succeeded"):
        release_transition(release=release, to_state=ReleaseState.SUCCEEDED, actor=None)
    release.refresh_from_db()
    assert release.state == ReleaseState.DRAFT
    assert not release.transitions.exists()


@pytest.mark.django_db
def test_promotion_needs_the_same_version_to_succeed_before(make_release, developer, web):
    release = submitted(make_release, developer, hours_from_now=-1)
    ok, release = services.release_begin(release=release)
    assert not ok
    assert "has not succeeded in staging" in release.hold_reason
    staging = make_release(web.environments.get(name="staging"), hours_from_now=-3)
    Release.objects.filter(pk=staging.pk).update(state=ReleaseState.SUCCEEDED)
    ok, release = services.release_begin(release=release)
    assert ok and release.state == ReleaseState.IN_PROGRESS
    assert release.transitions.last().to_state == "in_progress"


@pytest.mark.django_db
def test_an_emergency_may_start_before_its_policy_is_met_and_needs_a_retrospective(
    make_release, developer, release_manager, second_release_manager, prod_policy
):
    release = submitted(
        make_release,
        developer,
        hours_from_now=-1,
        change_type="emergency",
        justification="Checkout is down for every customer",
    )
    assert release.state == ReleaseState.PENDING_APPROVAL
    assert release.retrospective_due_at > timezone.now() + timedelta(days=1)
    # One independent approval of the policy's two lets an emergency to production start.
    services.release_approve(actor=release_manager, release=release)
    ok, release = services.release_begin(release=release)
    assert ok and release.state == ReleaseState.IN_PROGRESS
    from apps.releases.selectors import needing_retrospective

    assert list(needing_retrospective()) == [release]
    approval = services.release_approve(actor=second_release_manager, release=release)
    assert approval.is_retrospective
    release.refresh_from_db()
    assert release.retrospective_done_at is not None


@pytest.mark.django_db
def test_required_checks_block_until_ci_reports_them(make_release, ci, prod_policy, web):
    prod_policy.required_checks = ["tests", "security-scan"]
    prod_policy.save()
    release = make_release()
    gates = {gate.key: gate for gate in readiness(release, now=timezone.now())}
    assert not gates["check:tests"].passed and "Not reported" in gates["check:tests"].detail
    services.release_check_report(actor=ci, release=release, name="tests", status="passed")
    services.release_check_report(
        actor=ci,
        release=release,
        name="security-scan",
        status="failed",
        summary="2 critical CVEs",
    )
    gates = {gate.key: gate for gate in readiness(release, now=timezone.now())}
    assert gates["check:tests"].passed
    assert not gates["check:security-scan"].passed
    assert gates["check:security-scan"].detail == "2 critical CVEs"


@pytest.mark.django_db
def test_a_wait_timer_holds_an_approved_release(
    make_release, developer, release_manager, second_release_manager, prod_policy, web
):
    prod_policy.wait_minutes = 30
    prod_policy.save()
    staging = make_release(web.environments.get(name="staging"))
    Release.objects.filter(pk=staging.pk).update(state=ReleaseState.SUCCEEDED)
    release = submitted(make_release, developer, hours_from_now=-1)
    services.release_approve(actor=release_manager, release=release)
    services.release_approve(actor=second_release_manager, release=release)
    failures = blocking_failures(readiness(release, now=timezone.now()))
    assert [gate.key for gate in failures] == ["wait"]
    later = timezone.now() + timedelta(minutes=31)
    assert blocking_failures(readiness(release, now=later)) == []


@pytest.mark.django_db
def test_conflicts_show_overlapping_releases_of_dependent_services(
    make_release, developer, web, payments
):
    from apps.catalog.models import Dependency, Environment
    from apps.releases.selectors import release_conflicts
    from tests.factories import ServiceFactory

    ledger = ServiceFactory(name="ledger", owner=payments)
    Dependency.objects.create(source=web, target_service=ledger)
    ledger_prod = Environment.objects.create(
        service=ledger, name="prod", kind="production", order=1, namespace="x"
    )
    mine = make_release()
    same = make_release()
    theirs = services.release_create(
        actor=developer,
        service=ledger,
        environment=ledger_prod,
        version="ledger:2",
        title="Ledger",
        planned_start=mine.planned_start,
        planned_end=mine.planned_end,
    )
    conflicts = {c.release.pk: c.why for c in release_conflicts(mine)}
    assert conflicts == {
        same.pk: "same service and environment",
        theirs.pk: "ledger and web depend on each other",
    }


@pytest.mark.django_db
def test_every_state_change_is_audited_with_before_and_after(make_release, developer):
    release = submitted(make_release, developer)
    actions = list(
        AuditEvent.objects.filter(target_type="releases.release", target_id=str(release.pk))
        .order_by("id")
        .values_list("action", "before", "after")
    )
    assert [(a[0], a[2].get("state")) for a in actions] == [
        ("release.create", None),
        ("release.transition", "approved"),
        ("release.transition", "scheduled"),
    ]
    assert actions[1][1] == {"state": "draft"}


@pytest.mark.django_db
def test_an_unknown_policy_role_is_refused(platform_admin):
    with pytest.raises(ValidationError) as error:
        services.approval_policy_create(
            actor=platform_admin,
            name="P",
            environment_kind="production",
            rules=[{"name": "Wizards", "role": "wizard"}],
        )
    assert "rules" in error.value.message_dict
    assert not ApprovalPolicy.objects.exists()


def _finished(make_release, environment, version, state, at):
    """A release of `version` in `environment` that finished in `state` at `at`."""
    release = make_release(environment, version=version, hours_from_now=-3)
    Release.objects.filter(pk=release.pk).update(state=state, finished_at=at)


@pytest.mark.django_db
def test_a_soak_holds_a_promotion_until_the_version_ran_its_time_without_a_break(
    make_release, developer, web, release_manager, second_release_manager, prod_policy
):
    staging = web.environments.get(name="staging")
    staging.soak_seconds = 3600
    staging.save()
    now = timezone.now()
    _finished(
        make_release,
        staging,
        "registry/web:1.4.0",
        ReleaseState.SUCCEEDED,
        now - timedelta(minutes=50),
    )
    release = submitted(make_release, developer, hours_from_now=-1)
    services.release_approve(actor=release_manager, release=release)
    services.release_approve(actor=second_release_manager, release=release)

    # Approved by both, and still held: an approval does not shorten a soak.
    ok, release = services.release_begin(release=release)
    assert not ok
    assert "needs 1 h in staging without a failure or rollback" in release.hold_reason

    # Ten more minutes would do, but a later release in staging was rolled back: the count
    # starts again from the rollback, which put 1.4.0 back.
    _finished(
        make_release,
        staging,
        "registry/web:1.5.0",
        ReleaseState.ROLLED_BACK,
        now - timedelta(minutes=5),
    )
    gate = promotion_gate(release, now + timedelta(minutes=11))
    assert not gate.passed and gate.pending
    assert promotion_gate(release, now + timedelta(minutes=56)).passed

    Release.objects.filter(environment=staging).update(
        finished_at=models.F("finished_at") - timedelta(hours=1)
    )
    ok, release = services.release_begin(release=release)
    assert ok and release.state == ReleaseState.IN_PROGRESS
    assert "has run in staging for 1 h" in release.transitions.last().gates[0]["detail"]


@pytest.mark.django_db
def test_a_soak_counts_only_the_version_that_runs_there_now(make_release, web):
    staging = web.environments.get(name="staging")
    staging.soak_seconds = 600
    staging.save()
    long_ago = timezone.now() - timedelta(days=2)
    _finished(make_release, staging, "registry/web:1.4.0", ReleaseState.SUCCEEDED, long_ago)
    _finished(
        make_release,
        staging,
        "registry/web:1.5.0",
        ReleaseState.SUCCEEDED,
        long_ago + timedelta(hours=1),
    )
    gate = promotion_gate(make_release(), timezone.now())
    assert not gate.passed and gate.blocking
    assert gate.detail == "registry/web:1.4.0 is not what runs in staging now"


@pytest.mark.django_db
def test_only_an_emergency_with_its_justification_skips_a_soak(make_release, web):
    staging = web.environments.get(name="staging")
    staging.soak_seconds = 86400
    staging.save()
    _finished(make_release, staging, "registry/web:1.4.0", ReleaseState.SUCCEEDED, timezone.now())
    normal = promotion_gate(make_release(), timezone.now())
    assert (normal.passed, normal.blocking) == (False, True)
    emergency = make_release(change_type="emergency", justification="Checkout is down for all")
    gate = promotion_gate(emergency, timezone.now())
    assert (gate.passed, gate.blocking) == (True, False)
    assert gate.detail.startswith("Emergency change skips the soak: registry/web:1.4.0 needs 1 d")

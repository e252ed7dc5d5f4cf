"""The audit facts a release keeps when it finishes (apps/releases/audit_facts.py), which the
audit completeness KPI reads."""

import importlib

import pytest
from django.apps import apps as django_apps

from apps.releases.audit_facts import audit_facts_record
from apps.releases.models import Approval, Release, ReleaseCheck, ReleaseState
from apps.releases.transitions import release_transition

APPROVE = Approval.Decision.APPROVE
PASSED, PENDING, FAILED = (
    ReleaseCheck.Status.PASSED,
    ReleaseCheck.Status.PENDING,
    ReleaseCheck.Status.FAILED,
)


def in_progress(make_release):
    release = make_release()
    Release.objects.filter(pk=release.pk).update(state=ReleaseState.IN_PROGRESS)
    release.refresh_from_db()
    return release


def facts(release):
    release.refresh_from_db()
    return release.approval_on_record, release.checks_passed


@pytest.mark.django_db
@pytest.mark.parametrize(
    "finish", [ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK]
)
def test_a_release_keeps_its_audit_facts_when_it_finishes(
    make_release, release_manager, second_release_manager, finish
):
    release = in_progress(make_release)
    Approval.objects.create(release=release, approver=release_manager, decision=APPROVE)
    ReleaseCheck.objects.create(release=release, name="tests", status=PASSED)
    ReleaseCheck.objects.create(release=release, name="security-scan", status=FAILED)
    assert facts(release) == (None, None)  # an open release keeps none

    release_transition(release=release, to_state=finish, actor=None)

    assert facts(release) == (True, False)


@pytest.mark.django_db
def test_invalidated_or_rejecting_decisions_are_no_approval_on_record(
    make_release, release_manager, second_release_manager
):
    release = in_progress(make_release)
    Approval.objects.create(
        release=release,
        approver=release_manager,
        decision=APPROVE,
        invalidated_at=release.created_at,
    )
    Approval.objects.create(
        release=release, approver=second_release_manager, decision=Approval.Decision.REJECT
    )
    ReleaseCheck.objects.create(release=release, name="tests", status=PASSED)

    release_transition(release=release, to_state=ReleaseState.SUCCEEDED, actor=None)

    assert facts(release) == (False, True)


@pytest.mark.django_db
def test_a_release_without_reported_checks_passes_them(make_release):
    release = in_progress(make_release)
    release_transition(release=release, to_state=ReleaseState.FAILED, actor=None)
    assert facts(release) == (False, True)


@pytest.mark.django_db
def test_a_rollback_after_success_keeps_them_again(make_release, release_manager):
    release = in_progress(make_release)
    release = release_transition(release=release, to_state=ReleaseState.SUCCEEDED, actor=None)
    assert facts(release) == (False, True)
    Approval.objects.create(release=release, approver=release_manager, decision=APPROVE)
    release_transition(release=release, to_state=ReleaseState.ROLLED_BACK, actor=None)
    assert facts(release) == (True, True)


@pytest.mark.django_db
def test_recording_in_bulk_writes_the_finished_releases_only(
    make_release, release_manager, second_release_manager
):
    """Varied approvals and checks: what the bulk writer keeps is what a finish would."""
    cases = {
        # name: (state, approvals (approver, decision, invalidated), check statuses)
        "approved, passed": (ReleaseState.SUCCEEDED, [(0, APPROVE, False)], [PASSED]),
        "approved, pending": (ReleaseState.FAILED, [(0, APPROVE, False)], [PASSED, PENDING]),
        "invalidated, failed": (ReleaseState.ROLLED_BACK, [(0, APPROVE, True)], [FAILED]),
        "one of two live": (
            ReleaseState.SUCCEEDED,
            [(0, APPROVE, True), (1, APPROVE, False)],
            [],
        ),
        "rejected": (ReleaseState.SUCCEEDED, [(1, Approval.Decision.REJECT, False)], [PASSED]),
        "open": (ReleaseState.IN_PROGRESS, [(0, APPROVE, False)], [PASSED]),
        "cancelled": (ReleaseState.CANCELLED, [], [FAILED]),
    }
    approvers = [release_manager, second_release_manager]
    releases = {}
    for name, (state, approvals, checks) in cases.items():
        release = make_release(title=name)
        for who, decision, invalidated in approvals:
            Approval.objects.create(
                release=release,
                approver=approvers[who],
                decision=decision,
                invalidated_at=release.created_at if invalidated else None,
            )
        for n, status in enumerate(checks):
            ReleaseCheck.objects.create(release=release, name=f"check-{n}", status=status)
        Release.objects.filter(pk=release.pk).update(state=state)
        releases[name] = release

    assert audit_facts_record(Release.objects.all()) == 5

    assert {name: facts(release) for name, release in releases.items()} == {
        "approved, passed": (True, True),
        "approved, pending": (True, False),
        "invalidated, failed": (False, False),
        "one of two live": (True, True),
        "rejected": (False, True),
        "open": (None, None),
        "cancelled": (None, None),
    }


@pytest.mark.django_db
def test_the_migration_fills_in_the_releases_that_finished_before(
    make_release, release_manager, second_release_manager
):
    migration = importlib.import_module("apps.releases.migrations.0015_release_audit_facts")
    approved = make_release(title="approved")
    Approval.objects.create(release=approved, approver=release_manager, decision=APPROVE)
    ReleaseCheck.objects.create(release=approved, name="tests", status=PENDING)
    unapproved = make_release(title="unapproved")
    still_open = make_release(title="open")
    Release.objects.filter(pk__in=[approved.pk, unapproved.pk]).update(state=ReleaseState.SUCCEEDED)

    migration.record_finished_releases(django_apps, None)

    assert [facts(r) for r in (approved, unapproved, still_open)] == [
        (True, False),
        (False, True),
        (None, None),
    ]

"""Decisions racing each other through the API, for real: separate threads, separate PostgreSQL
connections, released together by a barrier. Each scenario runs several times to give the race
a chance. The release row lock (select_for_update) and the one-live-decision constraint must
settle every interleaving the same way."""

import itertools
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Role, User
from apps.audit.models import AuditEvent
from apps.catalog.models import Environment, EnvironmentKind
from apps.core.models import OutboxMessage
from apps.releases import services
from apps.releases.models import (
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    Release,
    ReleaseState,
    ReleaseTransition,
)
from tests.factories import ServiceFactory, TeamFactory, UserFactory

ITERATIONS = 5

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "Race tests need PostgreSQL (row locks and concurrent connections); "
            f"this run uses {connection.vendor}. Set TEST_DATABASE_URL=postgres://…"
        )


@pytest.fixture
def notified():
    """The notifications committed decisions queued: (release id, event) of each outbox row."""

    def queued() -> list[tuple]:
        rows = OutboxMessage.objects.filter(task_name="releases.notify")
        return [(args[0], args[1]) for args in rows.values_list("args", flat=True)]

    return queued


@pytest.fixture
def people():
    payments = TeamFactory(slug="payments")
    return {
        "dana": UserFactory(username="dana", roles=[Role.DEVELOPER], teams=[payments]),
        "riley": UserFactory(username="riley", roles=[Role.RELEASE_MANAGER]),
        "robin": UserFactory(username="robin", roles=[Role.RELEASE_MANAGER]),
    }


@pytest.fixture
def new_pending_release(people):
    """A factory of production releases waiting for two release-manager approvals."""
    service = ServiceFactory(name="checkout", owner=TeamFactory(slug="payments"), tier=2)
    prod = Environment.objects.create(
        service=service, name="prod", kind=EnvironmentKind.PRODUCTION, order=1, namespace="prod"
    )
    policy = ApprovalPolicy.objects.create(name="Production", environment_kind="production")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=2
    )
    counter = iter(range(1000))

    def make() -> Release:
        start = timezone.now() + timedelta(days=2, hours=next(counter))
        release = services.release_create(
            actor=people["dana"],
            service=service,
            environment=prod,
            version="registry/checkout:1.4.0",
            title="Faster checkout",
            planned_start=start,
            planned_end=start + timedelta(minutes=30),
        )
        release = services.release_submit(actor=people["dana"], release=release)
        assert release.state == ReleaseState.PENDING_APPROVAL
        return release

    return make


def race(*calls: tuple[User, str, dict]) -> list:
    """POST every (user, path, body) at the same moment, each from its own thread, client and
    database connection. Returns the responses in the order of `calls`."""
    barrier = threading.Barrier(len(calls))
    responses: list = [None] * len(calls)

    def run(index: int, user_id: int, path: str, body: dict) -> None:
        try:
            client = APIClient()
            client.force_authenticate(User.objects.get(pk=user_id))
            barrier.wait(timeout=10)
            responses[index] = client.post(path, body, format="json")
        except BaseException as exc:  # surfaced by the assertion below, not lost in the thread
            responses[index] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, user.pk, path, body))
        for index, (user, path, body) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
    return responses


def history(release: Release) -> list[tuple[str, str]]:
    return list(
        ReleaseTransition.objects.filter(release=release)
        .order_by("at", "id")
        .values_list("from_state", "to_state")
    )


def assert_history_is_one_chain(release: Release) -> None:
    """Every transition starts where the previous one ended, and the last is the state now."""
    steps = history(release)
    assert steps[0][0] == ReleaseState.DRAFT
    for (_, reached), (left, _) in itertools.pairwise(steps):
        assert left == reached, steps
    assert steps[-1][1] == release.state, (steps, release.state)


def approve_path(release: Release) -> str:
    return f"/api/v1/releases/{release.pk}/approve/"


def test_two_approvers_at_the_same_moment_each_count_once_and_schedule_it_once(
    people, new_pending_release, notified
):
    for _ in range(ITERATIONS):
        release = new_pending_release()
        responses = race(
            (people["riley"], approve_path(release), {"comment": "riley"}),
            (people["robin"], approve_path(release), {"comment": "robin"}),
        )
        assert [r.status_code for r in responses] == [200, 200], [r.json() for r in responses]
        # The one that committed second saw both approvals and scheduled the release.
        assert "scheduled" in {r.json()["state"] for r in responses}
        release.refresh_from_db()
        assert release.state == ReleaseState.SCHEDULED
        approvals = Approval.objects.filter(release=release)
        assert sorted(approvals.values_list("approver__username", "comment")) == [
            ("riley", "riley"),
            ("robin", "robin"),
        ]
        assert {a.rule.name for a in approvals} == {"Release managers"}
        assert history(release) == [
            ("draft", "pending_approval"),
            ("pending_approval", "approved"),
            ("approved", "scheduled"),
        ]
        events = AuditEvent.objects.filter(target_type="releases.release", target_id=release.pk)
        assert events.filter(action="release.approve").count() == 2
        assert events.filter(action="release.transition", after__state="scheduled").count() == 1
        assert notified().count((release.pk, "approved")) == 1


def test_a_double_submitted_approval_counts_once_and_the_second_is_refused(
    people, new_pending_release
):
    for _ in range(ITERATIONS):
        release = new_pending_release()
        responses = race(
            (people["riley"], approve_path(release), {"comment": "first"}),
            (people["riley"], approve_path(release), {"comment": "second"}),
        )
        assert sorted(r.status_code for r in responses) == [200, 400]
        (refused,) = [r for r in responses if r.status_code == 400]
        assert refused.json() == {"detail": ["You have already decided on this release."]}
        assert Approval.objects.filter(release=release).count() == 1
        release.refresh_from_db()
        assert release.state == ReleaseState.PENDING_APPROVAL
        assert history(release) == [("draft", "pending_approval")]


def test_an_approval_racing_a_cancel_never_lands_on_a_cancelled_release(
    people, new_pending_release, notified
):
    """robin has approved; riley's approval (the second of two) races dana's cancel. Either the
    cancel goes first and the approval is refused, or the approval schedules the release and
    the cancel then cancels the scheduled release (a scheduled release may be cancelled)."""
    outcomes = set()
    for _ in range(ITERATIONS):
        release = new_pending_release()
        services.release_approve(actor=people["robin"], release=release)
        approve, cancel = race(
            (people["riley"], approve_path(release), {"comment": "go"}),
            (people["dana"], f"/api/v1/releases/{release.pk}/cancel/", {"reason": "stop"}),
        )
        assert cancel.status_code == 200, cancel.json()
        release.refresh_from_db()
        assert release.state == ReleaseState.CANCELLED
        assert_history_is_one_chain(release)
        cancelled_at = ReleaseTransition.objects.get(release=release, to_state="cancelled").at
        approvals = Approval.objects.filter(release=release)
        assert all(approval.created_at < cancelled_at for approval in approvals)
        if approve.status_code == 200:
            outcomes.add("approved, then cancelled")
            assert sorted(approvals.values_list("approver__username", flat=True)) == [
                "riley",
                "robin",
            ]
            assert [to for _, to in history(release)] == [
                "pending_approval",
                "approved",
                "scheduled",
                "cancelled",
            ]
            assert notified().count((release.pk, "approved")) == 1
        else:
            outcomes.add("cancelled, approval refused")
            assert approve.status_code == 400
            assert approve.json() == {"detail": ["A release that is cancelled cannot be approved."]}
            assert list(approvals.values_list("approver__username", flat=True)) == ["robin"]
            assert [to for _, to in history(release)] == ["pending_approval", "cancelled"]
            assert (release.pk, "approved") not in notified()
    assert outcomes  # which interleavings happened is up to the scheduler

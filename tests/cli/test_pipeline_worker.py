"""A pipeline's `runway release create --submit --wait` from request to running: a live server,
a real Celery worker rolling out to the cluster simulator, and this test playing beat (starting
due releases and dispatching their rollouts, as Celery beat does every minute)."""

import subprocess

import pytest

from apps.accounts.models import Role
from apps.releases.models import ApprovalPolicy, ApprovalRule, Release, ReleaseState
from apps.releases.services import release_approve, releases_due_start
from apps.rollouts.kube import Kube
from apps.rollouts.services import rollouts_dispatch
from tests.integration.test_rollout_worker import service_with

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def ship(runway, developer, service, image: str, *, approver=None):
    """The command, run to its end while this test plays beat (and, given `approver`, approves
    the release once it asks for approval, as a release manager would in the browser)."""
    pipeline = runway.start(
        developer,
        "release", "create", "--service", service.name, "--env", "dev", "--image", image,
        "--submit", "--wait", "--timeout", "3m",
    )  # fmt: skip
    while pipeline.poll() is None:
        waiting = Release.objects.filter(version=image, state=ReleaseState.PENDING_APPROVAL)
        if approver is not None and (release := waiting.first()):
            release_approve(actor=approver, release=release, comment="Looks right")
        releases_due_start()
        rollouts_dispatch()
        try:
            pipeline.wait(timeout=0.3)
        except subprocess.TimeoutExpired:  # still running: another round of beat
            continue
    out, err = pipeline.communicate()
    return pipeline.returncode, out, err


@pytest.mark.parametrize("broker_url", ["redis"], indirect=True)
def test_the_command_exits_0_once_approved_and_running_and_4_when_a_bad_canary_is_rolled_back(
    workers, runway, developer, release_manager, payments, settings
):
    service = service_with("canary", {"steps": [{"set_weight": 50}, {"set_weight": 100}]}, payments)
    policy = ApprovalPolicy.objects.create(name="Dev", environment_kind="development")
    ApprovalRule.objects.create(
        policy=policy, name="Release managers", role=Role.RELEASE_MANAGER, required_count=1
    )
    workers()

    shipped = ship(runway, developer, service, "live:1", approver=release_manager)
    broken = ship(runway, developer, service, "live:crashloop", approver=release_manager)

    assert shipped[0] == 0, shipped
    assert "pending approval" in shipped[1] and ": succeeded" in shipped[1]
    assert broken[0] == 4, broken
    assert ": rolled back" in broken[1]
    first, second = Release.objects.order_by("pk")
    assert (first.state, second.state) == (ReleaseState.SUCCEEDED, ReleaseState.ROLLED_BACK)
    # What runs is the version that worked.
    kube = Kube(kubeconfig=str(settings.KUBECONFIG))
    assert kube.deployment("live", service.name).image == "live:1"

"""Reading a version's health from its pods, and splitting pods for a canary weight: pure rules."""

import pytest

from apps.rollouts import health, plans
from apps.rollouts.kube import PodStatus


def pod(name="web-1", *, ready=False, restarts=0, waiting="", message="", unschedulable=""):
    return PodStatus(
        name=name,
        image="web:2",
        phase="Pending" if unschedulable else "Running",
        ready=ready,
        restarts=restarts,
        waiting_reason=waiting,
        waiting_message=message,
        unschedulable=unschedulable,
    )


def test_healthy_pods_that_are_still_starting_are_no_failure():
    pods = [pod(waiting="ContainerCreating"), pod("web-2", ready=True)]
    assert health.failure(pods, restart_limit=3) == ""
    assert health.summary(pods) == "1/2 new pods ready (ContainerCreating)"


def test_a_crash_loop_is_a_failure_once_it_has_restarted():
    assert health.failure([pod(waiting="CrashLoopBackOff", restarts=1)], restart_limit=3) == ""
    reason = health.failure([pod(waiting="CrashLoopBackOff", restarts=2)], restart_limit=3)
    assert reason == "1 of 1 new pods are crash-looping (web-1 restarted 2 times, CrashLoopBackOff)"


def test_a_pod_restarting_past_the_limit_is_crash_looping_even_while_running():
    assert "crash-looping" in health.failure([pod(restarts=3)], restart_limit=3)
    assert health.failure([pod(restarts=2)], restart_limit=3) == ""


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "InvalidImageName"])
def test_an_image_that_cannot_be_pulled_is_a_failure(reason):
    failure = health.failure([pod(waiting=reason, message="not found")], restart_limit=3)
    assert failure == f"1 of 1 new pods cannot pull their image ({reason}: not found)"


def test_one_image_pull_error_may_pass_and_is_not_yet_a_failure():
    assert health.failure([pod(waiting="ErrImagePull")], restart_limit=3) == ""


def test_a_container_that_cannot_start_is_a_failure():
    failure = health.failure(
        [pod(waiting="CreateContainerConfigError", message='secret "db" not found')],
        restart_limit=3,
    )
    assert "cannot start their container" in failure and 'secret "db"' in failure


def test_pods_that_cannot_be_scheduled_are_named_in_the_summary():
    pods = [pod(unschedulable="0/1 nodes are available: 1 Insufficient cpu.")]
    assert health.failure(pods, restart_limit=3) == ""
    assert health.summary(pods) == (
        "1 of 1 new pods cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu."
    )


def test_no_pods_yet_is_said_so():
    assert health.summary([]) == "no pods of the new version yet"


@pytest.mark.parametrize(
    ("total", "weight", "split", "share"),
    [
        (1, 20, (1, 1), 50),
        (3, 20, (1, 3), 25),
        (4, 20, (1, 4), 20),
        (10, 20, (3, 10), 23),
        (10, 50, (10, 10), 50),
        (3, 100, (3, 0), 100),
        (3, 0, (0, 3), 0),
    ],
)
def test_a_canary_weight_keeps_the_stable_pods_and_comes_as_close_as_pods_allow(
    total, weight, split, share
):
    assert plans.canary_split(total, weight) == split
    assert plans.canary_share(*split) == share


@pytest.mark.parametrize("total", [1, 2, 3, 5, 10])
@pytest.mark.parametrize("weight", range(1, 100, 7))
def test_a_canary_below_full_weight_never_takes_a_stable_pod(total, weight):
    canary, stable = plans.canary_split(total, weight)
    assert stable == total and 1 <= canary <= total

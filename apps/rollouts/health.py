"""Why a version is not coming up, read from its pods.

A Deployment's own status is not enough: one that had completed and is then scaled up (a canary
going from 0 to N pods) never reports ProgressDeadlineExceeded, in a real cluster as in the
simulator. So every wait also reads the pods of the version under test, and Runway keeps its
own deadline. Pure functions over kube.PodStatus, so each rule is tested on its own."""

from apps.rollouts.kube import PodStatus

# Waiting reasons that do not clear up by themselves: the image cannot be had, or the pod spec
# cannot start. ErrImagePull alone may be a passing registry error; the back-off is not.
CANNOT_PULL = {"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
CANNOT_START = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


def failure(pods: list[PodStatus], *, restart_limit: int) -> str:
    """A reason to fail the rollout now, in words a person understands; empty if none."""
    total = len(pods)
    pulling = [pod for pod in pods if pod.waiting_reason in CANNOT_PULL]
    if pulling:
        return (
            f"{len(pulling)} of {total} new pods cannot pull their image "
            f"({pulling[0].waiting_reason}: {pulling[0].waiting_message or pulling[0].image})"
        )
    starting = [pod for pod in pods if pod.waiting_reason in CANNOT_START]
    if starting:
        return (
            f"{len(starting)} of {total} new pods cannot start their container "
            f"({starting[0].waiting_reason}: {starting[0].waiting_message})"
        )
    crashing = [
        pod
        for pod in pods
        if pod.restarts >= restart_limit
        or (pod.waiting_reason == "CrashLoopBackOff" and pod.restarts >= 2)
    ]
    if crashing:
        worst = max(crashing, key=lambda pod: pod.restarts)
        return (
            f"{len(crashing)} of {total} new pods are crash-looping "
            f"({worst.name} restarted {worst.restarts} times"
            + (f", {worst.waiting_reason}" if worst.waiting_reason else "")
            + ")"
        )
    return ""


def summary(pods: list[PodStatus]) -> str:
    """What holds the new pods back, for a wait message or the reason at the deadline."""
    if not pods:
        return "no pods of the new version yet"
    unscheduled = [pod for pod in pods if pod.unschedulable]
    if unscheduled:
        return (
            f"{len(unscheduled)} of {len(pods)} new pods cannot be scheduled: "
            f"{unscheduled[0].unschedulable}"
        )
    ready = sum(pod.ready for pod in pods)
    reasons = sorted({pod.waiting_reason for pod in pods if pod.waiting_reason})
    text = f"{ready}/{len(pods)} new pods ready"
    restarts = sum(pod.restarts for pod in pods)
    if restarts:
        text += f", {restarts} restarts"
    return f"{text} ({', '.join(reasons)})" if reasons else text

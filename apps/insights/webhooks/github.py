"""GitHub webhooks (header `X-GitHub-Event`), sent to /api/v1/events/deployments.

- `deployment_status`: a finished deployment (success → succeeded; failure, error → failed) is
  recorded. It carries the whole deployment: its creation is the start, the status's creation
  the finish. Queued, pending and in-progress statuses are acknowledged and waited past;
  `inactive` (a later deployment superseded this one) is not a result.
- `deployment`: acknowledged and ignored (202). Everything it says arrives again inside each of
  the deployment's `deployment_status` events.
- `push`: recorded for lead time. Its commits, with their timestamps, are kept by the push's head
  sha; a deployment of that sha ships them (the Four Keys rule), whichever arrives first.
- `workflow_run` (completed): a CI pipeline run, for the CI figures.
- `ping` and every other event: acknowledged and ignored (202).
"""

from urllib.parse import urlsplit

from apps.insights.models import DeploymentResult, FactSource, PipelineStatus
from apps.insights.webhooks.events import (
    CommitInfo,
    DeploymentEvent,
    Ignored,
    Interpretation,
    PipelineEvent,
    PushEvent,
    ServiceRef,
)
from apps.insights.webhooks.fields import get, need, need_list, need_text
from apps.insights.webhooks.timestamps import parse_optional_time, parse_time, seconds_between

RESULTS = {
    "success": DeploymentResult.SUCCEEDED,
    "failure": DeploymentResult.FAILED,
    "error": DeploymentResult.FAILED,
}
WAITING = {"queued", "pending", "in_progress"}
PIPELINE_RESULTS = {
    "success": PipelineStatus.SUCCEEDED,
    "failure": PipelineStatus.FAILED,
    "timed_out": PipelineStatus.FAILED,
    "startup_failure": PipelineStatus.FAILED,
    "cancelled": PipelineStatus.CANCELLED,
}


def delivery_id(headers) -> str:
    return headers.get("x-github-delivery", "")


def event_name(headers) -> str:
    return headers.get("x-github-event", "")


def interpret(event: str, payload: dict) -> Interpretation:
    if event == "deployment_status":
        return _deployment_status(payload)
    if event == "push":
        return _push(payload)
    if event == "workflow_run":
        return _workflow_run(payload)
    if event == "deployment":
        return Ignored(
            "GitHub's deployment event is not needed: its deployment_status events carry the "
            "same deployment and its result.",
            subject=_deployment_subject(payload),
        )
    if event == "ping":
        return Ignored("Pong: the webhook reaches Runway.")
    return Ignored(f"Runway does not use GitHub's {event or 'unnamed'!r} events.")


def _repository(payload: dict) -> tuple[ServiceRef, str]:
    url = need_text(payload, "repository.html_url")
    return ServiceRef(repository=url), urlsplit(url).netloc.rpartition("@")[2]


def _deployment_subject(payload: dict) -> str:
    deployment_id = get(payload, "deployment.id")
    url = get(payload, "repository.html_url", "")
    host = urlsplit(url).netloc.rpartition("@")[2] if isinstance(url, str) else ""
    return f"{host}/deployments/{deployment_id}" if deployment_id else ""


def _deployment_status(payload: dict) -> Interpretation:
    service, host = _repository(payload)
    external_id = f"{host}/deployments/{need_text(payload, 'deployment.id')}"
    state = need_text(payload, "deployment_status.state")
    finished_at = parse_time(
        get(payload, "deployment_status.created_at")
        or get(payload, "deployment_status.updated_at"),
        "deployment_status.created_at",
    )
    if state in WAITING:
        return Ignored(
            f"The deployment is {state}: it is recorded when it finishes.",
            subject=external_id,
            occurred_at=finished_at,
        )
    if state not in RESULTS:
        return Ignored(f"A deployment status of {state!r} is not a result.", subject=external_id)
    sha = need_text(payload, "deployment.sha")
    production = get(payload, "deployment.production_environment")
    return DeploymentEvent(
        service=service,
        source=FactSource.GITHUB,
        external_id=external_id,
        environment=str(
            get(payload, "deployment_status.environment") or need(payload, "deployment.environment")
        ),
        version=sha,
        result=RESULTS[state],
        started_at=parse_time(need(payload, "deployment.created_at"), "deployment.created_at"),
        finished_at=finished_at,
        production_hint=production if isinstance(production, bool) else None,
        commits=(CommitInfo(sha=sha),),
        head_sha=sha,
    )


def _push(payload: dict) -> Interpretation:
    if payload.get("deleted"):
        return Ignored("A deleted branch or tag ships nothing.")
    service, _ = _repository(payload)
    head = need_text(payload, "after")
    commits = {}
    listed = need_list(payload, "commits")
    head_commit = payload.get("head_commit")
    for index, commit in enumerate([*listed, *([head_commit] if head_commit else [])]):
        where = f"commits.{index}" if index < len(listed) else "head_commit"
        sha = need_text(commit, "id") if isinstance(commit, dict) else ""
        if not sha:
            continue
        commits[sha] = CommitInfo(
            sha=sha, committed_at=parse_time(need(commit, "timestamp"), f"{where}.timestamp")
        )
    if not commits:
        return Ignored("A push without commits ships nothing new.", subject=head)
    return PushEvent(service=service, head_sha=head, commits=tuple(commits.values()))


def _workflow_run(payload: dict) -> Interpretation:
    service, host = _repository(payload)
    run_id = need_text(payload, "workflow_run.id")
    attempt = get(payload, "workflow_run.run_attempt", 1)
    external_id = f"{host}/runs/{run_id}/attempts/{attempt}"
    if payload.get("action") != "completed":
        return Ignored("The run has not completed yet.", subject=external_id)
    conclusion = need_text(payload, "workflow_run.conclusion")
    if conclusion not in PIPELINE_RESULTS:
        return Ignored(f"A run that ended {conclusion!r} says nothing of CI.", subject=external_id)
    started_at = parse_time(
        get(payload, "workflow_run.run_started_at") or need(payload, "workflow_run.created_at"),
        "workflow_run.run_started_at",
    )
    finished_at = parse_optional_time(
        get(payload, "workflow_run.updated_at"), "workflow_run.updated_at"
    )
    finished_at = max(finished_at or started_at, started_at)
    return PipelineEvent(
        service=service,
        source=FactSource.GITHUB,
        external_id=external_id,
        status=PIPELINE_RESULTS[conclusion],
        started_at=started_at,
        finished_at=finished_at,
        duration_seconds=seconds_between(started_at, finished_at),
        name=str(get(payload, "workflow_run.name", ""))[:200],
        ref=str(get(payload, "workflow_run.head_branch", ""))[:255],
        sha=str(get(payload, "workflow_run.head_sha", ""))[:64],
    )

"""GitLab webhooks (header `X-Gitlab-Event`), sent to /api/v1/events/deployments.

- `Deployment Hook`: success → succeeded, failed → failed. GitLab sends no start time and no full
  sha: the start is taken from the same deployment's earlier `running` delivery when Runway
  received it (else the finish), and the full sha from `commit_url` (else `short_sha`).
  Timestamps look like `2021-04-28 21:50:00 +0200`.
- `Push Hook`: commits with their timestamps, kept for lead time as with GitHub pushes.
- `Pipeline Hook`: a finished pipeline (success, failed, canceled), for the CI figures.
- Everything else: acknowledged and ignored (202).
The delivery id is `X-Gitlab-Event-UUID`, or a hash of the body when it is missing.
"""

import re
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

RESULTS = {"success": DeploymentResult.SUCCEEDED, "failed": DeploymentResult.FAILED}
PIPELINE_RESULTS = {
    "success": PipelineStatus.SUCCEEDED,
    "failed": PipelineStatus.FAILED,
    "canceled": PipelineStatus.CANCELLED,
}
_FULL_SHA_IN_URL = re.compile(r"/commit/([0-9a-f]{40}|[0-9a-f]{64})/?$")
_DELETED = "0" * 40


def delivery_id(headers) -> str:
    return headers.get("x-gitlab-event-uuid", "")


def event_name(headers) -> str:
    return headers.get("x-gitlab-event", "")


def interpret(event: str, payload: dict) -> Interpretation:
    if event == "Deployment Hook":
        return _deployment(payload)
    if event == "Push Hook":
        return _push(payload)
    if event == "Pipeline Hook":
        return _pipeline(payload)
    return Ignored(f"Runway does not use GitLab's {event or 'unnamed'!r} events.")


def _project(payload: dict) -> tuple[ServiceRef, str]:
    url = need_text(payload, "project.web_url")
    return ServiceRef(repository=url), urlsplit(url).netloc.rpartition("@")[2]


def _deployment(payload: dict) -> Interpretation:
    service, host = _project(payload)
    external_id = f"{host}/deployments/{need_text(payload, 'deployment_id')}"
    status = need_text(payload, "status")
    changed_at = parse_time(need(payload, "status_changed_at"), "status_changed_at")
    if status not in RESULTS:
        # `running` is kept with its time: it is the start of the deployment's later result.
        return Ignored(
            f"The deployment is {status}: it is recorded when it succeeds or fails.",
            subject=external_id,
            occurred_at=changed_at,
        )
    match = _FULL_SHA_IN_URL.search(str(get(payload, "commit_url", "")))
    sha = match.group(1) if match else need_text(payload, "short_sha")
    tier = get(payload, "environment_tier")
    return DeploymentEvent(
        service=service,
        source=FactSource.GITLAB,
        external_id=external_id,
        environment=need_text(payload, "environment"),
        version=sha,
        result=RESULTS[status],
        started_at=None,
        finished_at=changed_at,
        production_hint=(tier == "production") if isinstance(tier, str) else None,
        commits=(CommitInfo(sha=sha),),
        head_sha=sha,
    )


def _push(payload: dict) -> Interpretation:
    service, _ = _project(payload)
    head = need_text(payload, "after")
    if head == _DELETED:
        return Ignored("A deleted branch ships nothing.")
    commits = {}
    for index, commit in enumerate(need_list(payload, "commits")):
        sha = need_text(commit, "id") if isinstance(commit, dict) else ""
        if sha:
            commits[sha] = CommitInfo(
                sha=sha,
                committed_at=parse_time(need(commit, "timestamp"), f"commits.{index}.timestamp"),
            )
    if not commits:
        return Ignored("A push without commits ships nothing new.", subject=head)
    return PushEvent(service=service, head_sha=head, commits=tuple(commits.values()))


def _pipeline(payload: dict) -> Interpretation:
    service, host = _project(payload)
    external_id = f"{host}/pipelines/{need_text(payload, 'object_attributes.id')}"
    status = need_text(payload, "object_attributes.status")
    if status not in PIPELINE_RESULTS:
        return Ignored(
            f"The pipeline is {status}: it is recorded when it ends.", subject=external_id
        )
    started_at = parse_time(
        get(payload, "object_attributes.started_at")
        or need(payload, "object_attributes.created_at"),
        "object_attributes.created_at",
    )
    finished_at = parse_optional_time(
        get(payload, "object_attributes.finished_at"), "object_attributes.finished_at"
    )
    finished_at = max(finished_at or started_at, started_at)
    duration = get(payload, "object_attributes.duration")
    if not isinstance(duration, int | float) or isinstance(duration, bool) or duration < 0:
        duration = seconds_between(started_at, finished_at)
    return PipelineEvent(
        service=service,
        source=FactSource.GITLAB,
        external_id=external_id,
        status=PIPELINE_RESULTS[status],
        started_at=started_at,
        finished_at=finished_at,
        duration_seconds=int(duration),
        name=str(get(payload, "object_attributes.name", "") or "")[:200],
        ref=str(get(payload, "object_attributes.ref", ""))[:255],
        sha=str(get(payload, "object_attributes.sha", ""))[:64],
    )

"""Recording facts: deployments with their commits, incidents, pipeline runs, pushed commits.

Facts are machine input (webhooks; Runway's own releases through services/runway.py), idempotent
by (source, external id), and many: they are not written to the audit log, whose one chain would
make every delivery wait for every other. Each delivery is its own record (WebhookDelivery, with
its payload); what people do (sources, secrets, mapping) is audited.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.catalog.models import Environment, EnvironmentKind, Service
from apps.insights.models import (
    CommitFact,
    DeploymentFact,
    DeploymentResult,
    FactSource,
    IncidentFact,
    IncidentLink,
    IncidentSource,
    PipelineRun,
    PipelineStatus,
    PushedCommit,
)
from apps.insights.selectors import local_day
from apps.insights.services.rollups import rollup_refresh_days
from apps.insights.webhooks.timestamps import seconds_between

# Names that mean production when the catalog has no environment of that name for the service
# and the vendor gives no hint.
PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live"})
# An incident without a named cause is pinned on the latest production deployment that started
# before it opened, if one started within this long before it.
INCIDENT_LINK_LOOKBACK = timedelta(days=30)

CommitRows = dict[str, datetime | None]  # sha → commit time (None: unknown)


def environment_is_production(
    *, service: Service, environment: str, hint: bool | None = None
) -> bool:
    """The catalog decides (the service's environment of that name, by kind); else the vendor's
    hint (GitLab's environment tier, GitHub's production_environment); else the name."""
    kind = (
        Environment.objects.filter(service=service, name__iexact=environment)
        .values_list("kind", flat=True)
        .first()
    )
    if kind is not None:
        return kind == EnvironmentKind.PRODUCTION
    if hint is not None:
        return hint
    return environment.strip().lower() in PRODUCTION_NAMES


# --- Deployments ------------------------------------------------------------------------------


def _commit_rows(commits: Iterable) -> CommitRows:
    """Commits as mappings ({sha, committed_at | timestamp}) or objects with sha/committed_at."""
    rows: CommitRows = {}
    for index, commit in enumerate(commits or (), start=1):
        if isinstance(commit, dict):
            sha, when = commit.get("sha"), commit.get("committed_at", commit.get("timestamp"))
        else:
            sha, when = getattr(commit, "sha", None), getattr(commit, "committed_at", None)
        sha = str(sha or "").strip()
        if not sha or len(sha) > 64:
            raise ValidationError({"commits": f"Commit {index}: give a sha of 1 to 64 characters."})
        if when is not None and (not isinstance(when, datetime) or when.utcoffset() is None):
            raise ValidationError(
                {"commits": f"Commit {index}: its time must be a datetime with a time zone."}
            )
        rows[sha] = when or rows.get(sha)
    return rows


def _merged(existing: CommitRows, new: CommitRows) -> CommitRows:
    merged = dict(existing)
    for sha, when in new.items():
        merged[sha] = when or merged.get(sha)
    return merged


def _lead_time(finished_at: datetime, committed_at: datetime | None) -> int | None:
    if committed_at is None:
        return None
    seconds = seconds_between(committed_at, finished_at)
    return seconds if seconds > 0 else None  # a commit "after" its deployment: clocks disagree


def _write_commits(fact: DeploymentFact, rows: CommitRows) -> None:
    fact.commits.all().delete()
    CommitFact.objects.bulk_create(
        [
            CommitFact(
                deployment=fact,
                sha=sha,
                committed_at=when,
                lead_time_seconds=_lead_time(fact.finished_at, when),
            )
            for sha, when in rows.items()
        ]
    )


def _validate_deployment(**values) -> None:
    errors = {}
    for name in ("environment", "version", "external_id"):
        if not values[name]:
            errors[name] = "This field is required."
    if values["source"] not in FactSource.values:
        errors["source"] = f"Choose one of: {', '.join(FactSource.values)}."
    if values["result"] not in DeploymentResult.values:
        errors["result"] = f"Choose one of: {', '.join(DeploymentResult.values)}."
    for name in ("started_at", "finished_at", "rolled_back_at"):
        moment = values[name]
        if moment is None and name == "rolled_back_at":
            continue
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            errors[name] = "Give a datetime with a time zone."
    if not errors and values["finished_at"] < values["started_at"]:
        errors["finished_at"] = "A deployment cannot finish before it started."
    if errors:
        raise ValidationError(errors)


def _recovery(started_at: datetime, rolled_back_at: datetime | None) -> int | None:
    return None if rolled_back_at is None else max(seconds_between(started_at, rolled_back_at), 0)


def _is_failure(result: str, rolled_back_at: datetime | None, *, caused_incident: bool) -> bool:
    """Failed, rolled back, or named as (or inferred to be) an incident's cause."""
    return result != DeploymentResult.SUCCEEDED or rolled_back_at is not None or caused_incident


def _rollup_days(fact: DeploymentFact, also=()) -> None:
    """Refresh the roll-up where this fact counts, and where later production deployments of
    the same commits count (whether they count depends on which deployment came first)."""
    days = {local_day(fact.finished_at), *also}
    if fact.is_production:
        later = (
            DeploymentFact.objects.filter(
                service_id=fact.service_id,
                is_production=True,
                finished_at__gt=fact.finished_at,
                commits__sha__in=fact.commits.values("sha"),
            )
            .values_list("finished_at", flat=True)
            .distinct()
        )
        days |= {local_day(moment) for moment in later}
    rollup_refresh_days(service_id=fact.service_id, days=days)


@transaction.atomic
def deployment_fact_record(
    *,
    source: str,
    service: Service,
    environment: str,
    version: str,
    started_at: datetime | None,
    finished_at: datetime,
    result: str,
    commits: Iterable = (),
    external_id: str,
    is_production: bool | None = None,
    rolled_back_at: datetime | None = None,
) -> tuple[DeploymentFact, bool]:
    """Record a finished deployment, or update the one recorded under (source, external_id).
    Returns (fact, whether anything changed): recording the same thing twice changes nothing.
    A deployment without a start (None) is refused like any other bad value.

    A later report of the same deployment wins, with two exceptions. A rollback report keeps the
    deployment's own finish and records the rollback's finish as `rolled_back_at` (recovery =
    rolled_back_at - started_at). A deployment once rolled back is settled: a late retry of an
    earlier report cannot undo the rollback. Commits are merged (a known time wins); each
    commit's lead time is the deployment's finish - its commit time, in real seconds.
    `is_production` defaults to what the catalog says of the environment (or its name)."""
    environment, version = (environment or "").strip(), (version or "").strip()
    external_id = (external_id or "").strip()
    _validate_deployment(
        source=source,
        environment=environment,
        version=version,
        external_id=external_id,
        result=result,
        started_at=started_at,
        finished_at=finished_at,
        rolled_back_at=rolled_back_at,
    )
    rows = _commit_rows(commits)
    if is_production is None:
        is_production = environment_is_production(service=service, environment=environment)
    values = {
        "environment": environment[:63],
        "is_production": is_production,
        "version": version[:300],
        "started_at": started_at,
        "finished_at": finished_at,
        "result": result,
        "rolled_back_at": rolled_back_at,
    }
    fact = (
        DeploymentFact.objects.select_for_update()
        .filter(source=source, external_id=external_id[:200])
        .first()
    )
    if fact is None:
        created = _deployment_create(service, source, external_id[:200], values, rows)
        if created is not None:
            return created, True
        # Another delivery of the same deployment was recorded meanwhile: update that one.
        fact = DeploymentFact.objects.select_for_update().get(
            source=source, external_id=external_id[:200]
        )
    return _deployment_update(fact, values, rows)


def _deployment_create(
    service: Service, source: str, external_id: str, values: dict, rows: CommitRows
) -> DeploymentFact | None:
    rolled_back_at = values["rolled_back_at"] or (
        values["finished_at"] if values["result"] == DeploymentResult.ROLLED_BACK else None
    )
    fact = DeploymentFact(
        service=service,
        source=source,
        external_id=external_id,
        **{**values, "rolled_back_at": rolled_back_at},
        commit_count=len(rows),
        recovery_seconds=_recovery(values["started_at"], rolled_back_at),
        is_failure=_is_failure(values["result"], rolled_back_at, caused_incident=False),
    )
    fact.full_clean(exclude=["service"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            fact.save()
    except IntegrityError:
        return None
    _write_commits(fact, rows)
    _rollup_days(fact)
    return fact


def _deployment_update(
    fact: DeploymentFact, values: dict, rows: CommitRows
) -> tuple[DeploymentFact, bool]:
    if fact.result == DeploymentResult.ROLLED_BACK:
        return fact, False
    before_day = local_day(fact.finished_at)
    existing_rows = dict(fact.commits.values_list("sha", "committed_at"))
    merged = _merged(existing_rows, rows)
    if values["result"] == DeploymentResult.ROLLED_BACK:
        finished_at = fact.finished_at
        rolled_back_at = values["rolled_back_at"] or values["finished_at"]
    else:
        finished_at = values["finished_at"]
        rolled_back_at = values["rolled_back_at"] or fact.rolled_back_at
    started_at = min(fact.started_at, values["started_at"])
    new = {
        "environment": values["environment"],
        "is_production": values["is_production"],
        "version": values["version"],
        "result": values["result"],
        "started_at": started_at,
        "finished_at": max(finished_at, started_at),
        "rolled_back_at": rolled_back_at,
        "recovery_seconds": _recovery(started_at, rolled_back_at),
        "commit_count": len(merged),
    }
    new["is_failure"] = _is_failure(
        new["result"], rolled_back_at, caused_incident=fact.incidents.exists()
    )
    changed_fields = [name for name, value in new.items() if getattr(fact, name) != value]
    commits_changed = merged != existing_rows
    if not changed_fields and not commits_changed:
        return fact, False
    for name in changed_fields:
        setattr(fact, name, new[name])
    fact.save(update_fields=[*changed_fields, "updated_at"])
    if commits_changed or "finished_at" in changed_fields:
        _write_commits(fact, merged)
    _rollup_days(fact, also={before_day})
    return fact, True


def pushed_commits_for(*, service: Service, head_sha: str, commits: Iterable) -> list[dict]:
    """A vendor deployment's commits: its head, with the commits (and times) of the push whose
    head it was, when Runway received that push."""
    rows = _commit_rows(commits)
    if head_sha:
        pushed = PushedCommit.objects.filter(service=service).filter(
            Q(head_sha=head_sha) | Q(sha=head_sha)
        )
        rows = _merged(dict(pushed.values_list("sha", "committed_at")), rows)
    return [{"sha": sha, "committed_at": when} for sha, when in rows.items()]


@transaction.atomic
def pushed_commits_record(*, service: Service, head_sha: str, commits: Iterable) -> int:
    """Keep a push's commits by its head; a deployment of that head recorded before the push
    arrived gets them now. Returns how many deployments gained commit times."""
    rows = _commit_rows(commits)
    PushedCommit.objects.bulk_create(
        [
            PushedCommit(service=service, head_sha=head_sha, sha=sha, committed_at=when)
            for sha, when in rows.items()
            if when is not None
        ],
        ignore_conflicts=True,
    )
    updated = 0
    waiting = DeploymentFact.objects.select_for_update().filter(
        service=service,
        source__in=[FactSource.GITHUB, FactSource.GITLAB],
        version=head_sha,
    )
    for fact in waiting:
        values = {
            name: getattr(fact, name)
            for name in ("environment", "is_production", "version", "started_at", "finished_at")
        }
        values.update(result=fact.result, rolled_back_at=fact.rolled_back_at)
        _, changed = _deployment_update(fact, values, rows)
        updated += changed
    return updated


# --- Incidents --------------------------------------------------------------------------------


def _cause(
    service: Service, opened_at: datetime, version: str
) -> tuple[DeploymentFact | None, str]:
    production = DeploymentFact.objects.filter(service=service, is_production=True).order_by(
        "-started_at", "-id"
    )
    if version:
        named = production.filter(version=version)
        fact = named.filter(started_at__lte=opened_at).first() or named.first()
        if fact is not None:
            return fact, IncidentLink.REPORTED
    fact = production.filter(
        started_at__lte=opened_at, started_at__gte=opened_at - INCIDENT_LINK_LOOKBACK
    ).first()
    return (fact, IncidentLink.INFERRED) if fact is not None else (None, "")


def _refresh_failure(fact_id: int) -> None:
    fact = DeploymentFact.objects.select_for_update().get(pk=fact_id)
    failed = _is_failure(fact.result, fact.rolled_back_at, caused_incident=fact.incidents.exists())
    if failed != fact.is_failure:
        fact.is_failure = failed
        fact.save(update_fields=["is_failure", "updated_at"])
        rollup_refresh_days(service_id=fact.service_id, days={local_day(fact.finished_at)})


@transaction.atomic
def incident_record(
    *,
    source: str,
    external_id: str,
    service: Service,
    title: str = "",
    opened_at: datetime | None = None,
    resolved_at: datetime | None = None,
    reopened: bool = False,
    caused_by_version: str = "",
) -> tuple[IncidentFact, bool]:
    """Record an incident or a change to it (resolved, reopened), idempotent on (source,
    external_id). Its cause: the production deployment of `caused_by_version` when given, else
    (once, when first recorded) the latest production deployment of the service that started
    before the incident opened, within INCIDENT_LINK_LOOKBACK. The cause counts as failed."""
    if source not in IncidentSource.values:
        raise ValidationError({"source": f"Choose one of: {', '.join(IncidentSource.values)}."})
    external_id = (external_id or "").strip()[:200]
    if not external_id:
        raise ValidationError({"external_id": "This field is required."})
    incident = (
        IncidentFact.objects.select_for_update()
        .filter(source=source, external_id=external_id)
        .first()
    )
    created = False
    if incident is None:
        first_seen = opened_at or resolved_at
        if first_seen is None:
            raise ValidationError({"opened_at": "When did the incident open?"})
        try:
            with transaction.atomic():
                incident = IncidentFact.objects.create(
                    service=service,
                    source=source,
                    external_id=external_id,
                    title=title[:300],
                    opened_at=first_seen,
                    start_known=opened_at is not None,
                )
                created = True
        except IntegrityError:
            incident = IncidentFact.objects.select_for_update().get(
                source=source, external_id=external_id
            )
    before = (incident.title, incident.opened_at, incident.resolved_at, incident.deployment_id)

    if opened_at is not None and (opened_at < incident.opened_at or not incident.start_known):
        incident.opened_at, incident.start_known = opened_at, True
    if reopened:
        incident.resolved_at = None
    elif resolved_at is not None:
        incident.resolved_at = max(resolved_at, incident.opened_at)
    incident.title = (title or incident.title)[:300]
    # An incident never seen open has no recovery time: its resolve time is not its start.
    incident.recovery_seconds = (
        seconds_between(incident.opened_at, incident.resolved_at)
        if incident.resolved_at is not None and incident.start_known
        else None
    )
    if caused_by_version or (incident.deployment_id is None and incident.start_known):
        cause, link = _cause(incident.service, incident.opened_at, caused_by_version.strip())
        if cause is not None and (link == IncidentLink.REPORTED or incident.deployment_id is None):
            incident.deployment, incident.link = cause, link

    after = (incident.title, incident.opened_at, incident.resolved_at, incident.deployment_id)
    incident.save()
    if before[3] != after[3]:
        for fact_id in {before[3], after[3]}:
            if fact_id is not None:
                _refresh_failure(fact_id)
    return incident, created or before != after


# --- CI pipelines -----------------------------------------------------------------------------


@transaction.atomic
def pipeline_run_record(
    *,
    source: str,
    external_id: str,
    service: Service,
    status: str,
    started_at: datetime,
    finished_at: datetime,
    duration_seconds: int,
    name: str = "",
    ref: str = "",
    sha: str = "",
) -> tuple[PipelineRun, bool]:
    if status not in PipelineStatus.values:
        raise ValidationError({"status": f"Choose one of: {', '.join(PipelineStatus.values)}."})
    return PipelineRun.objects.update_or_create(
        source=source,
        external_id=external_id[:200],
        defaults={
            "service": service,
            "status": status,
            "started_at": started_at,
            "finished_at": max(finished_at, started_at),
            "duration_seconds": max(int(duration_seconds), 0),
            "name": name[:200],
            "ref": ref[:255],
            "sha": sha[:64],
        },
    )

"""Demo history for `make run`: seven months of delivery for the demo services, so the reports
mean something at first sight.

- Deployments to staging and production, with their commits, failures, rollbacks, incidents and
  CI runs, for teams with different habits (apps.demo.history_plan). The history ends today, so
  the last 90 days are always full, and it is the same on every run (one seeded random.Random).
- The last weeks of some services went through Runway: releases with approvals, checks,
  rollouts and deployments, written directly as history, not through the workflow
  (apps.demo.history_releases).
- A scorecard snapshot per service for each of the last 26 weeks
  (apps.demo.history_scorecards).

The facts are written in bulk with the recording service's own rules for lead time, recovery
and failure. Incidents go through incident_record, which finds their causes as for real ones;
Runway's releases by recording their finishing transitions, the road live releases take
(apps.insights.services.runway), before the incidents look for the deployments they blame. The
daily roll-up is rebuilt once at the end."""

import random
from datetime import datetime, timedelta

from django.utils import timezone

from apps.catalog.models import Environment, Service
from apps.demo.history_plan import (
    HISTORY_WEEKS,
    PERSONALITIES,
    PREFIX,
    Change,
    History,
    Incident,
    plan_service,
)
from apps.demo.history_releases import releases_write
from apps.demo.history_scorecards import snapshots_write
from apps.insights.models import CommitFact, DeploymentFact, IncidentSource, PipelineRun
from apps.insights.scorecards.selectors import week_of
from apps.insights.selectors import local_day
from apps.insights.services.facts import (
    _is_failure,
    _lead_time,
    _recovery,
    incident_record,
)
from apps.insights.services.rollups import rollup_refresh
from apps.insights.services.runway import release_transitions_record_all

SEED = 2026


def load() -> list[str]:
    if DeploymentFact.objects.filter(external_id__startswith=PREFIX).exists():
        return []
    services = {
        service.name: service
        for service in Service.objects.filter(name__in=PERSONALITIES).select_related("owner")
    }
    if not services:
        return []
    now = timezone.now()
    this_monday = week_of(local_day(now))
    first_monday = this_monday - timedelta(weeks=HISTORY_WEEKS - 1)
    rng = random.Random(SEED)  # noqa: S311 - demo data, the same on every run
    history = History[Service]()
    for name, personality in PERSONALITIES.items():
        if name in services:
            plan_service(rng, history, services[name], personality, first_monday, now)
    if not history.changes:
        return []

    facts = _write_facts([c for c in history.changes if not c.through_runway])
    releases = releases_write(
        rng=rng,
        changes=[c for c in history.changes if c.through_runway],
        incidents=history.incidents,
        now=now,
    )
    release_transitions_record_all()
    PipelineRun.objects.bulk_create(history.runs, batch_size=500)
    for number, incident in enumerate(sorted(history.incidents, key=_opened), start=1):
        incident_record(
            source=IncidentSource.PAGERDUTY,
            external_id=f"{PREFIX}{incident.service.name}/INC-{number}",
            service=incident.service,
            title=incident.title,
            opened_at=incident.opened_at,
            resolved_at=incident.resolved_at,
            caused_by_version=incident.cause.version if incident.cause else "",
        )
    rollup_refresh(
        start=local_day(min(change.finished_at for change in history.changes)),
        end=local_day(now),
        service_ids=[service.pk for service in services.values()],
    )
    snapshots = snapshots_write(list(services.values()), this_monday)
    return [
        f"{len(facts)} demo deployments with their commits",
        f"{len(releases)} historical Runway releases with rollouts",
        f"{len(history.incidents)} demo incidents",
        f"{len(history.runs)} demo CI runs",
        f"{len(snapshots)} scorecard snapshots",
    ]


def _opened(incident: Incident[Service]) -> datetime:
    return incident.opened_at


# --- Facts ------------------------------------------------------------------------------------


def _write_facts(changes: list[Change[Service]]) -> list[DeploymentFact]:
    """The vendors' deployments, in bulk, with the recording service's rules for the computed
    fields. An incident's cause becomes a failure when the incident is recorded."""
    environments = {
        (service_id, kind): name
        for service_id, kind, name in Environment.objects.filter(
            service__in={c.service for c in changes}
        ).values_list("service_id", "kind", "name")
    }
    facts = [
        DeploymentFact(
            service=change.service,
            environment=environments.get(
                (change.service.pk, change.environment_kind),
                "prod" if change.production else "staging",
            ),
            is_production=change.production,
            version=change.version,
            source=PERSONALITIES[change.service.name].source,
            external_id=f"{PREFIX}{change.service.name}/{number}",
            started_at=change.started_at,
            finished_at=change.finished_at,
            result=change.result,
            commit_count=len(change.commits),
            rolled_back_at=change.rolled_back_at,
            recovery_seconds=_recovery(change.started_at, change.rolled_back_at),
            is_failure=_is_failure(change.result, change.rolled_back_at, caused_incident=False),
        )
        for number, change in enumerate(changes, start=1)
    ]
    DeploymentFact.objects.bulk_create(facts, batch_size=500)
    CommitFact.objects.bulk_create(
        [
            CommitFact(
                deployment=fact,
                sha=sha,
                committed_at=committed_at,
                lead_time_seconds=_lead_time(fact.finished_at, committed_at),
            )
            for fact, change in zip(facts, changes, strict=True)
            for sha, committed_at in change.commits
        ],
        batch_size=1000,
    )
    return facts

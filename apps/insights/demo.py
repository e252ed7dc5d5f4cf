"""Demo history for `make run`: seven months of delivery for the demo services, so the reports
mean something at first sight.

- Deployments to staging and production, with their commits, failures, rollbacks, incidents and
  CI runs, for teams with different habits (PERSONALITIES). The history ends today, so the last
  90 days are always full, and it is the same on every run (one seeded random.Random).
- The last weeks of some services went through Runway: releases with approvals, checks,
  rollouts and deployments, written directly as history, not through the workflow.
- A scorecard snapshot per service for each of the last 26 weeks (STORY).

The facts are written in bulk with the recording service's own rules for lead time, recovery
and failure. Incidents go through incident_record, which finds their causes as for real ones;
Runway's releases by recording their finishing transitions, the road live releases take
(apps.insights.services.runway), before the incidents look for the deployments they blame. The
daily roll-up is rebuilt once at the end."""

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from apps.catalog.models import Environment, EnvironmentKind, Service, Strategy
from apps.insights.demo_releases import releases_write
from apps.insights.models import (
    CommitFact,
    DeploymentFact,
    DeploymentResult,
    FactSource,
    IncidentSource,
    PipelineRun,
    PipelineStatus,
    ScorecardSnapshot,
)
from apps.insights.scorecards.evaluation import evaluate_services, rule_settings, tally
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
from apps.releases.models import ChangeType, Release

SEED = 2026
PREFIX = "demo/"  # the external ids of the generated facts
HISTORY_WEEKS = 30  # of deployments: the first snapshot looks back four weeks
SNAPSHOT_WEEKS = 26
DURATION_MINUTES = {
    Strategy.CANARY: (15, 35),
    Strategy.BLUE_GREEN: (8, 20),
    Strategy.ROLLING: (3, 10),
}


@dataclass(frozen=True)
class Personality:
    """How a team delivers a service. Pairs are (seven months ago, today), in between linearly
    (rates) or geometrically (durations), for the services that change."""

    per_week: tuple[float, float]  # production deployments
    failure: tuple[float, float]  # share of production deployments that fail
    lead_hours: tuple[float, float]  # median commit → production
    recovery_minutes: tuple[float, float]  # median time to restore
    ci_minutes: tuple[float, float]
    ci_failure: tuple[float, float]
    source: str
    upcoming: tuple[int, int]  # (major, minor) of the version the other demos ship next
    incident_titles: tuple[str, ...]
    runway_weeks: int = 0  # its last weeks' changes went through Runway
    stray_incidents: int = 0  # incidents no deployment caused
    open_incident: bool = False


PERSONALITIES = {
    # The busy elite: several small changes a day, rarely failing, recovered in minutes.
    "payments-api": Personality(
        per_week=(8, 10), failure=(0.05, 0.03), lead_hours=(6, 3), recovery_minutes=(35, 20),
        ci_minutes=(9, 7), ci_failure=(0.08, 0.06), source=FactSource.GITHUB, upcoming=(1, 1),
        incident_titles=("Card authorisations timing out", "Elevated 5xx on /charges"),
    ),
    "checkout-web": Personality(
        per_week=(4, 6), failure=(0.06, 0.04), lead_hours=(10, 5), recovery_minutes=(45, 25),
        ci_minutes=(12, 8), ci_failure=(0.10, 0.07), source=FactSource.GITHUB, upcoming=(5, 1),
        incident_titles=("Checkout page blank on Safari", "Basket totals off by a cent"),
    ),
    # Careful and weekly, a few days from commit to production; on Runway lately.
    "ledger": Personality(
        per_week=(1.2, 1.3), failure=(0.08, 0.06), lead_hours=(80, 60), recovery_minutes=(50, 40),
        ci_minutes=(14, 12), ci_failure=(0.05, 0.05), source=FactSource.GITHUB, upcoming=(2, 4),
        incident_titles=("Ledger replication lag",), runway_weeks=8,
    ),
    # The one that improves: monthly and fragile seven months ago, weekly and steady today.
    "fraud-check": Personality(
        per_week=(0.6, 4), failure=(0.4, 0.05), lead_hours=(900, 20), recovery_minutes=(960, 45),
        ci_minutes=(28, 11), ci_failure=(0.25, 0.08), source=FactSource.GITHUB, upcoming=(1, 9),
        incident_titles=("Fraud scores missing", "False positives spike"), runway_weeks=4,
    ),
    # Weekly, blue/green; its production changes went through Runway lately.
    "search-api": Personality(
        per_week=(1, 1.1), failure=(0.12, 0.10), lead_hours=(110, 90),
        recovery_minutes=(150, 120), ci_minutes=(11, 10), ci_failure=(0.10, 0.10),
        source=FactSource.GITLAB, upcoming=(2, 3),
        incident_titles=("Search timeouts", "Empty results for accented queries"), runway_weeks=8,
    ),
    # The struggling one: fails often, recovers slowly, takes weeks from commit to production.
    "search-indexer": Personality(
        per_week=(0.8, 0.7), failure=(0.35, 0.4), lead_hours=(300, 420),
        recovery_minutes=(1200, 1500), ci_minutes=(30, 34), ci_failure=(0.25, 0.25),
        source=FactSource.GITLAB, upcoming=(1, 8),
        incident_titles=("Indexer backlog growing", "Stale search results"),
        stray_incidents=3, open_incident=True,
    ),
    "recommendations": Personality(
        per_week=(0.6, 0.9), failure=(0.2, 0.15), lead_hours=(60, 48), recovery_minutes=(240, 180),
        ci_minutes=(10, 10), ci_failure=(0.12, 0.12), source=FactSource.GITLAB, upcoming=(0, 7),
        incident_titles=("Recommendations latency over SLO",), stray_incidents=1,
    ),
}  # fmt: skip

# The scorecard's story: a rule the catalog decides that passes today has passed since this
# many weeks ago (else all along); one that fails today has failed all along. The rules the
# facts decide follow the history.
STORY = {
    "payments-api": {"latest_template": 20, "verification_gate": 20},
    "checkout-web": {"has_runbook": 16, "progressive_delivery": 8},  # canary: Silver → Gold
    "ledger": {"verification_gate": 8},
    "fraud-check": {"has_on_call": 22, "has_runbook": 18},
    "search-api": {"has_runbook": 6, "verification_gate": 12},
    "search-indexer": {"has_on_call": 10},
}
SECOND = timedelta(seconds=1)


@dataclass(eq=False)
class Change:
    """One deployment of the generated history, before it becomes a fact or a release."""

    service: Service
    production: bool
    started_at: datetime
    finished_at: datetime
    commits: list[tuple[str, datetime]]
    through_runway: bool
    result: str = DeploymentResult.SUCCEEDED
    rolled_back_at: datetime | None = None
    semver: str = ""
    staged: "Change | None" = None  # production: the staging deployment of the same version
    previous: "Change | None" = None  # production: the version it replaced
    # Through Runway (apps.insights.demo_releases): how a production change's rollout went, or
    # "skipped" for the staging deployment of an emergency that went straight to production.
    runway_kind: str = ""
    emergency: bool = False
    evidence_gap: str = ""  # "unreported": CI never reported; "pending": a scan never finished

    @property
    def environment_kind(self) -> str:
        return EnvironmentKind.PRODUCTION if self.production else EnvironmentKind.STAGING

    @property
    def version(self) -> str:
        if not self.through_runway:
            return self.semver
        return f"registry.example.com/{self.service.owner.slug}/{self.service.name}:{self.semver}"


@dataclass
class Incident:
    service: Service
    title: str
    opened_at: datetime
    resolved_at: datetime | None
    cause: Change | None = None  # named by version; else incident_record infers one


@dataclass
class History:
    changes: list[Change] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    runs: list[PipelineRun] = field(default_factory=list)


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
    history = History()
    for name, personality in PERSONALITIES.items():
        if name in services:
            _plan(rng, history, services[name], personality, first_monday, now)
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
    snapshots = _write_snapshots(list(services.values()), this_monday)
    return [
        f"{len(facts)} demo deployments with their commits",
        f"{len(releases)} historical Runway releases with rollouts",
        f"{len(history.incidents)} demo incidents",
        f"{len(history.runs)} demo CI runs",
        f"{len(snapshots)} scorecard snapshots",
    ]


# --- The plan ---------------------------------------------------------------------------------


def _at(day: date, hours: float) -> datetime:
    midnight = datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())
    return midnight + timedelta(hours=hours)


def _opened(incident: Incident) -> datetime:
    return incident.opened_at


def _between(pair: tuple[float, float], t: float, *, geometric: bool = False) -> float:
    first, last = pair
    return first * (last / first) ** t if geometric else first + (last - first) * t


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _plan(rng, history: History, service: Service, p: Personality, first_monday, now) -> None:
    """The service's production changes week by week, then their versions, their staging
    deployments and their CI runs."""
    weekdays = 4 if p.runway_weeks else 5  # Runway's production window: Monday to Thursday
    shortest, longest = DURATION_MINUTES.get(service.strategy, (5, 15))
    production: list[Change] = []
    for week in range(HISTORY_WEEKS):
        t = week / (HISTORY_WEEKS - 1)
        per_day = _between(p.per_week, t) / weekdays
        for weekday in range(weekdays):
            day = first_monday + timedelta(weeks=week, days=weekday)
            count = int(per_day) + (rng.random() < per_day % 1)
            not_before = _at(day, 9)
            for hours in sorted(rng.uniform(9, 15.5) for _ in range(count)):
                started = max(_at(day, hours), not_before)
                minutes = rng.uniform(shortest, longest)
                finished = started + timedelta(minutes=minutes)
                not_before = finished + timedelta(minutes=10)
                if finished > now - timedelta(minutes=30):
                    continue
                change = Change(
                    service=service,
                    production=True,
                    started_at=started,
                    finished_at=finished,
                    commits=_commits(rng, p, t, finished, minutes),
                    through_runway=week >= HISTORY_WEEKS - p.runway_weeks,
                )
                _maybe_fail(rng, history, change, p, t, now)
                production.append(change)
    _number(production, p.upcoming)
    for change in production:
        _stage(rng, history, change, shortest)
    history.changes += production
    _incidents_without_cause(rng, history, service, p, first_monday, now)
    _ci_runs(rng, history, service, p, production, now)


def _commits(rng, p: Personality, t: float, finished: datetime, minutes: float) -> list:
    median = _between(p.lead_hours, t, geometric=True) * 3600
    # Time for a staging deployment between the last commit and production.
    floor = 2.5 * minutes * 60 + 1200
    count = rng.choices(range(1, 6), weights=(3, 3, 2, 1, 1))[0]
    leads = [max(median * math.exp(rng.gauss(0, 0.6)), floor) for _ in range(count)]
    return [(_sha(rng), finished - timedelta(seconds=lead)) for lead in sorted(leads, reverse=True)]


def _maybe_fail(rng, history: History, change: Change, p: Personality, t: float, now) -> None:
    if rng.random() >= _between(p.failure, t):
        return
    how = rng.choices(("rolled_back", "failed", "incident"), weights=(5, 2, 3))[0]
    recovery = _between(p.recovery_minutes, t, geometric=True) * 60 * math.exp(rng.gauss(0, 0.5))
    if how == "failed" and not change.through_runway:  # Runway rolls a failed rollout back
        change.result = DeploymentResult.FAILED
    elif how == "incident":
        opened = change.finished_at + timedelta(minutes=rng.uniform(10, 180))
        resolved = opened + timedelta(seconds=recovery * 1.5)
        if opened < now:
            history.incidents.append(
                Incident(
                    service=change.service,
                    title=rng.choice(p.incident_titles),
                    opened_at=opened,
                    resolved_at=resolved if resolved < now else None,
                    cause=change if rng.random() < 0.6 else None,
                )
            )
    else:
        took = (change.finished_at - change.started_at).total_seconds()
        rolled_back_at = change.started_at + timedelta(seconds=max(recovery, took + 120))
        if rolled_back_at < now:
            change.result, change.rolled_back_at = DeploymentResult.ROLLED_BACK, rolled_back_at


def _number(production: list[Change], upcoming: tuple[int, int]) -> None:
    """Versions counting up to the one the other demos ship next: x.0.0, x.0.1, ... x.(m-1).n."""
    major, next_minor = upcoming
    minors = max(next_minor, 1)
    patches: dict[int, int] = {}
    previous = None
    for index, change in enumerate(production):
        minor = index * minors // max(len(production), 1)
        patch = patches[minor] = patches.get(minor, -1) + 1
        change.semver, change.previous = f"{major}.{minor}.{patch}", previous
        previous = change


def _stage(rng, history: History, change: Change, shortest: float) -> None:
    """Staging first: the same version and commits, between the last commit and production.
    Now and then an earlier attempt failed there."""
    last_commit = change.commits[-1][1]
    took = (change.finished_at - change.started_at) * 0.8
    room = change.started_at - last_commit - took - timedelta(minutes=5)
    if room <= timedelta(0):
        return  # a hotfix straight to production
    started = last_commit + room * rng.uniform(0.2, 0.9)
    staged = Change(
        service=change.service,
        production=False,
        started_at=started,
        finished_at=started + took,
        commits=change.commits,
        through_runway=change.through_runway,
        semver=change.semver,
    )
    change.staged = staged
    history.changes.append(staged)
    attempt = started - timedelta(minutes=rng.uniform(20, 90))
    if not change.through_runway and attempt > last_commit and rng.random() < 0.2:
        history.changes.append(
            Change(
                service=change.service,
                production=False,
                started_at=attempt,
                finished_at=attempt + timedelta(minutes=shortest),
                commits=change.commits,
                through_runway=False,
                semver=change.semver,
                result=DeploymentResult.FAILED,
            )
        )


def _incidents_without_cause(rng, history: History, service, p: Personality, first_monday, now):
    begin = _at(first_monday, 0)
    for _ in range(p.stray_incidents):
        opened = begin + (now - begin) * rng.uniform(0.1, 0.95)
        took = timedelta(minutes=_between(p.recovery_minutes, 0.5, geometric=True) * 2)
        history.incidents.append(
            Incident(service, rng.choice(p.incident_titles), opened, min(opened + took, now))
        )
    if p.open_incident:
        opened = now - timedelta(hours=rng.uniform(3, 30))
        history.incidents.append(Incident(service, p.incident_titles[0], opened, None))


def _ci_runs(rng, history: History, service, p: Personality, production, now) -> None:
    """A pipeline run per commit pushed; a failed or cancelled run is run again."""
    first = production[0].started_at if production else now
    for change in production:
        t = min(max((change.started_at - first) / (now - first), 0), 1) if now > first else 1
        for sha, committed_at in change.commits:
            started = committed_at + timedelta(minutes=rng.uniform(1, 6))
            while True:
                minutes = _between(p.ci_minutes, t, geometric=True) * math.exp(rng.gauss(0, 0.35))
                finished = started + timedelta(minutes=minutes)
                if finished > now:
                    break
                draw = rng.random()
                failure = _between(p.ci_failure, t)
                status = (
                    PipelineStatus.FAILED
                    if draw < failure
                    else PipelineStatus.CANCELLED
                    if draw < failure + 0.02
                    else PipelineStatus.SUCCEEDED
                )
                history.runs.append(
                    PipelineRun(
                        service=service,
                        source=p.source,
                        external_id=f"{PREFIX}{service.name}/ci/{len(history.runs) + 1}",
                        name="build-and-test",
                        ref="main",
                        sha=sha,
                        status=status,
                        started_at=started,
                        finished_at=finished,
                        duration_seconds=round(minutes * 60),
                    )
                )
                if status == PipelineStatus.SUCCEEDED:
                    break
                started = finished + timedelta(minutes=rng.uniform(5, 40))


# --- Facts ------------------------------------------------------------------------------------


def _write_facts(changes: list[Change]) -> list[DeploymentFact]:
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


# --- Scorecards -------------------------------------------------------------------------------


def _write_snapshots(services: list[Service], this_monday: date) -> list[ScorecardSnapshot]:
    """Each service's scorecard as each of the last SNAPSHOT_WEEKS weeks began, by the
    scorecard's own evaluation as of then: the rules the facts decide follow the history; the
    ones the catalog decides say what the catalog says today, since the week STORY gives."""
    settings = rule_settings()
    emergencies = list(
        Release.objects.filter(
            service__in=services, change_type=ChangeType.EMERGENCY, started_at__isnull=False
        ).values_list("service_id", "started_at", "retrospective_done_at")
    )
    names = {service.pk: service.name for service in services}
    snapshots = []
    for weeks_ago in range(SNAPSHOT_WEEKS - 1, -1, -1):
        week = this_monday - timedelta(weeks=weeks_ago)
        began = _at(week, 0)
        for evaluation in evaluate_services(service_ids=list(names), now=began - SECOND):
            results = dict(evaluation.results)
            for key, since in STORY.get(names[evaluation.service_id], {}).items():
                results[key] = results[key] and weeks_ago <= since
            # The review queue as it stood then, not as it stands today.
            results["no_open_emergency"] = not any(
                service_id == evaluation.service_id
                and started < began
                and (reviewed is None or reviewed > began)
                for service_id, started, reviewed in emergencies
            )
            level, passed, total = tally(results, settings)
            snapshots.append(
                ScorecardSnapshot(
                    service_id=evaluation.service_id,
                    team_id=evaluation.owner_id,
                    week=week,
                    level=level,
                    results=results,
                    passed=passed,
                    total=total,
                    taken_at=began,
                )
            )
    # A week the scorecards already took (an older demo database) keeps its real snapshot.
    ScorecardSnapshot.objects.bulk_create(snapshots, batch_size=500, ignore_conflicts=True)
    return snapshots

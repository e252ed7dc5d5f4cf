"""The plan of a service's delivery history: production deployments week by week for a team's
habits (a Personality), with their versions, commits, staging deployments, failures, rollbacks,
incidents and CI runs, as plain objects. The demo plans its services' seven months with it
(apps.demo.history), and the benchmark each of its services' year (benchmarks/delivery_data.py),
at the service's own pace (personality_at_pace)."""

import math
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Generic, TypeVar

from django.utils import timezone

from apps.catalog.models import EnvironmentKind, Service, Strategy
from apps.demo.world import ServiceSpec
from apps.insights.models import DeploymentResult, FactSource, PipelineRun, PipelineStatus

# The demo plans from its services' rows, the benchmark from their specs.
S = TypeVar("S", Service, ServiceSpec)
PREFIX = "demo/"  # the external ids of the generated facts
HISTORY_WEEKS = 30  # of deployments: the first snapshot looks back four weeks
DURATION_MINUTES: dict[str, tuple[int, int]] = {
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
        runway_weeks=10,  # signed, with provenance, before it took up canary (Gold since)
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


def personality_at_pace(rng: random.Random, per_week: float) -> Personality:
    """A generated service's habits (the benchmark's): one of the demo services', at its own
    pace of production deployments a week, and none of its changes through Runway."""
    habit = rng.choice(list(PERSONALITIES.values()))
    factor = per_week / (sum(habit.per_week) / 2)
    first, last = habit.per_week
    return replace(habit, per_week=(first * factor, last * factor), runway_weeks=0)


@dataclass(eq=False)
class Change(Generic[S]):
    """One deployment of the generated history, before it becomes a fact or a release."""

    service: S
    production: bool
    started_at: datetime
    finished_at: datetime
    commits: list[tuple[str, datetime]]
    through_runway: bool
    result: str = DeploymentResult.SUCCEEDED
    rolled_back_at: datetime | None = None
    semver: str = ""
    staged: "Change[S] | None" = None  # production: the staging deployment of the same version
    previous: "Change[S] | None" = None  # production: the version it replaced
    # Through Runway (apps.demo.history_releases): how a production change's rollout went, or
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
        service = self.service
        team = service.owner if isinstance(service, ServiceSpec) else service.owner.slug
        return f"registry.example.com/{team}/{service.name}:{self.semver}"


@dataclass
class Incident(Generic[S]):
    service: S
    title: str
    opened_at: datetime
    resolved_at: datetime | None
    cause: Change[S] | None = None  # named by version; else incident_record infers one


@dataclass
class History(Generic[S]):
    changes: list[Change[S]] = field(default_factory=list)
    incidents: list[Incident[S]] = field(default_factory=list)
    runs: list[PipelineRun] = field(default_factory=list)


def local_time(day: date, hours: float) -> datetime:
    """`hours` after the day's midnight, in the default time zone."""
    midnight = datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())
    return midnight + timedelta(hours=hours)


def _between(pair: tuple[float, float], t: float, *, geometric: bool = False) -> float:
    first, last = pair
    return first * (last / first) ** t if geometric else first + (last - first) * t


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def plan_service(
    rng,
    history: History[S],
    service: S,
    p: Personality,
    first_monday: date,
    now: datetime,
    *,
    weeks: int = HISTORY_WEEKS,
    ci_runs: bool = True,
) -> None:
    """The service's production changes week by week, then their versions, their staging
    deployments and their CI runs (model rows, left out at the benchmark's size)."""
    weekdays = 4 if p.runway_weeks else 5  # Runway's production window: Monday to Thursday
    shortest, longest = DURATION_MINUTES.get(service.strategy, (5, 15))
    production: list[Change[S]] = []
    for week in range(weeks):
        t = week / (weeks - 1)
        per_day = _between(p.per_week, t) / weekdays
        for weekday in range(weekdays):
            count = int(per_day) + (rng.random() < per_day % 1)
            if not count:
                continue  # most days of most of the benchmark's services
            day = first_monday + timedelta(weeks=week, days=weekday)
            not_before = local_time(day, 9)
            for hours in sorted(rng.uniform(9, 15.5) for _ in range(count)):
                started = max(local_time(day, hours), not_before)
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
                    through_runway=week >= weeks - p.runway_weeks,
                )
                _maybe_fail(rng, history, change, p, t, now)
                production.append(change)
    _number(production, p.upcoming)
    for change in production:
        _stage(rng, history, change, shortest)
    history.changes += production
    _incidents_without_cause(rng, history, service, p, first_monday, now)
    if ci_runs and isinstance(service, Service):  # model rows: the demo's services only
        _ci_runs(rng, history, service, p, production, now)


def _commits(rng, p: Personality, t: float, finished: datetime, minutes: float) -> list:
    median = _between(p.lead_hours, t, geometric=True) * 3600
    # Time for a staging deployment between the last commit and production.
    floor = 2.5 * minutes * 60 + 1200
    count = rng.choices(range(1, 6), weights=(3, 3, 2, 1, 1))[0]
    leads = [max(median * math.exp(rng.gauss(0, 0.6)), floor) for _ in range(count)]
    return [(_sha(rng), finished - timedelta(seconds=lead)) for lead in sorted(leads, reverse=True)]


def _maybe_fail(rng, history: History[S], change: Change[S], p: Personality, t: float, now) -> None:
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


def _number(production: list[Change[S]], upcoming: tuple[int, int]) -> None:
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


def _stage(rng, history: History[S], change: Change[S], shortest: float) -> None:
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


def _incidents_without_cause(
    rng, history: History[S], service: S, p: Personality, first_monday, now
):
    begin = local_time(first_monday, 0)
    for _ in range(p.stray_incidents):
        opened = begin + (now - begin) * rng.uniform(0.1, 0.95)
        took = timedelta(minutes=_between(p.recovery_minutes, 0.5, geometric=True) * 2)
        history.incidents.append(
            Incident(service, rng.choice(p.incident_titles), opened, min(opened + took, now))
        )
    if p.open_incident:
        opened = now - timedelta(hours=rng.uniform(3, 30))
        history.incidents.append(Incident(service, p.incident_titles[0], opened, None))


def _ci_runs(
    rng, history: History[Service], service: Service, p: Personality, production, now
) -> None:
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

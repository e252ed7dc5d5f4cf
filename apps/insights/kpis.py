"""Platform KPIs: how well the delivery platform itself works, beside the four keys.

Each figure has its current value over the window, what it is computed from (a numerator and a
denominator, or a count) and a trend with one point per calendar week (Monday) of the window,
None where a week has nothing to measure. Windows and weeks are TIME_ZONE days, as in the DORA
report. Rollout figures cover rollouts into every environment; audit completeness covers
production releases.

- rollback_success_rate: Runway's rollbacks in production (rollouts with is_rollback into a
  production environment) that finished in the window: succeeded / finished (any finished
  state). A rollback is one definition across the reports (apps/insights/dora.py): a production
  deployment returned to the version before it, counted when the rollback finishes. Each one
  that succeeded is also a rollback of the four keys' recovery time, which counts other tools'
  rollbacks too.
- latest_template_share, progressive_delivery_share, verification_gate_share: services passing
  the scorecard rule of that key / services with a scorecard evaluation (whether the rule is
  enabled or not: the results hold every rule). Services never evaluated are not counted. The
  value is the latest evaluation (ServiceScore); the trend comes from the weekly snapshots
  (ScorecardSnapshot; for a team, the snapshots taken while the service was the team's).
- audit_completeness: production releases that finished (succeeded, failed or rolled back) in
  the window, complete / all. Complete means all four of:
    requester: the release names who asked for it;
    approval: a standard change made from a pre-approved template; or approved (approved_at,
      or for an emergency its retrospective review done) with at least one approving decision
      that was not invalidated afterwards. A release that needed no approval has no approver
      on record and counts as missing one;
    checks: none of the checks CI reported is pending or failed (a release with no reported
      checks passes this part);
    rollout: Runway rolled it out (a rollout of the release that is not a rollback).
  The count of releases missing each part says why the others are incomplete.
- failure_detection_seconds: median of failure_detected_at - started_at over rollouts (not
  rollbacks) that finished failed or rolled back in the window and recorded when the failure was
  detected.
- manual_interventions_per_release: manual interventions (promote, pause, resume, abort,
  rollback) summed over the rollouts that finished in the window / the releases those rollouts
  belong to.
- artifact_integrity_coverage: production releases that started in the window, those whose
  artifact's signature and SLSA provenance Runway verified at the start (its supply-chain gates,
  apps/supplychain) / all. A release no trust policy asked to verify counts as not covered: the
  figure is how much of production runs verified artifacts.
- security_gate_pass_rate: production releases whose supply-chain gates a start attempt first
  evaluated in the window, those whose supply-chain gates all passed at that first attempt /
  all (Release.supply_chain_first_passed, kept even when the start was refused). Only the
  supply-chain gates count: a freeze or a missing approval is no security failure; evidence
  still awaited is not a pass. Releases no trust policy covers are not counted.
- standard_pipeline_share: services on a golden path (Service.template set), those whose CI
  last reported (with `runway release create`, RUNWAY_PIPELINE_TEMPLATE) the newest version of
  their golden path's pipeline template / all of them. The others split into outdated (an older
  version, or another template) and unreported. Services on no golden path are not counted: they
  have no standard pipeline to be on (golden-path adoption itself is latest_template_share).
  Runway keeps each service's last report only, so this is the state now, not over the window:
  the trend has the value in its last week when the window ends today, and None elsewhere.
- ci_success_rate, ci_duration_p50_seconds, ci_duration_p95_seconds: CI pipeline runs that
  finished in the window, leaving out cancelled runs (usually superseded by a newer push: they
  say nothing about the pipeline's health or speed). Success rate: succeeded / (succeeded +
  failed); durations: percentile_cont over the same runs.
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from apps.catalog.models import EnvironmentKind, GoldenPathTemplate, Service
from apps.insights import dora
from apps.insights.models import PipelineRun, PipelineStatus, ScorecardSnapshot, ServiceScore
from apps.insights.selectors import day_bounds, dora_window, scope_filters
from apps.releases.audit_facts import audit_fact
from apps.releases.models import ChangeType, Release, ReleaseState
from apps.rollouts.models import FINISHED_STATES, Rollout, RolloutState

SCORECARD_SHARES = ("latest_template", "progressive_delivery", "verification_gate")
AUDITED_STATES = (ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK)


@dataclass(frozen=True)
class TrendPoint:
    week: date  # the Monday
    value: float | None


@dataclass(frozen=True)
class Ratio:
    value: float | None  # numerator / denominator; None when the denominator is 0
    numerator: int
    denominator: int
    trend: list[TrendPoint]


@dataclass(frozen=True)
class Measure:
    value: float | None  # seconds; None with nothing to measure
    count: int  # how many values it is taken over
    trend: list[TrendPoint]


@dataclass(frozen=True)
class AuditCompleteness:
    value: float | None  # complete / releases
    complete: int
    releases: int
    missing_requester: int
    missing_approval: int
    checks_not_passed: int
    missing_rollout: int
    trend: list[TrendPoint]


@dataclass(frozen=True)
class PipelineAdoption:
    value: float | None  # latest / services
    latest: int
    outdated: int
    unreported: int
    services: int  # services on a golden path
    trend: list[TrendPoint]


@dataclass(frozen=True)
class PlatformKpis:
    scope: str
    name: str
    start: date
    end: date
    rollback_success_rate: Ratio  # succeeded / finished rollbacks
    latest_template_share: Ratio  # passing / evaluated services
    progressive_delivery_share: Ratio
    verification_gate_share: Ratio
    audit_completeness: AuditCompleteness
    failure_detection_seconds: Measure  # the median
    manual_interventions_per_release: Ratio  # interventions / releases, 2 decimals
    artifact_integrity_coverage: Ratio  # verified / started production releases
    security_gate_pass_rate: Ratio  # passed at the first attempt / evaluated releases
    standard_pipeline_share: PipelineAdoption
    ci_success_rate: Ratio  # succeeded / (succeeded + failed) runs
    ci_duration_p50_seconds: Measure
    ci_duration_p95_seconds: Measure


class SecondsBetween(Func):
    """later - earlier in seconds, a float, computed by the database."""

    arity = 2
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(EXTRACT(EPOCH FROM (%(expressions)s)) AS double precision)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # julianday() is a float of days: rounded to the millisecond, whole seconds stay whole.
        return super().as_sql(
            compiler,
            connection,
            template="ROUND((julianday(%(expressions)s)) * 86400, 3)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


def _divide(numerator: int, denominator: int, digits: int = 4) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def _ratio_trend(
    weeks: list[date], rows, numerator: str, denominator: str, digits: int = 4
) -> list[TrendPoint]:
    by_week = {dora.as_week(row["week"]): row for row in rows}
    return [
        TrendPoint(
            week,
            _divide(
                by_week.get(week, {}).get(numerator) or 0,
                by_week.get(week, {}).get(denominator) or 0,
                digits,
            ),
        )
        for week in weeks
    ]


def _percentile_trend(weeks: list[date], grouped: dict, index: int = 0) -> list[TrendPoint]:
    by_week = {dora.as_week(week): found for week, found in grouped.items()}
    return [
        TrendPoint(week, by_week[week][0][index] if week in by_week else None) for week in weeks
    ]


def _snapshot_filters(filters: dict) -> dict:
    """A team's snapshots are those taken while the service was the team's (snapshot.team)."""
    if "service__owner_id" in filters:
        return {"team_id": filters["service__owner_id"]}
    return filters


# --- The figures ------------------------------------------------------------------------------


def _rollouts(
    weeks: list[date], lower: datetime, upper: datetime, filters: dict
) -> tuple[Ratio, Ratio, Measure]:
    """Rollback success, manual interventions and failure detection: four queries."""
    tz = timezone.get_default_timezone()
    finished = Rollout.objects.filter(finished_at__gte=lower, finished_at__lt=upper, **filters)
    rollback = Q(
        is_rollback=True,
        state__in=FINISHED_STATES,
        environment__kind=EnvironmentKind.PRODUCTION,
    )
    weekly = list(
        finished.values(week=TruncWeek("finished_at", tzinfo=tz))
        .annotate(
            rollbacks=Count("pk", filter=rollback),
            rollbacks_succeeded=Count("pk", filter=rollback & Q(state=RolloutState.SUCCEEDED)),
            interventions=Sum("manual_interventions"),
            releases=Count("release_id", distinct=True),
        )
        .order_by()
    )
    # A release whose rollouts finished in two weeks counts in each week, but once overall.
    total = finished.aggregate(
        interventions=Sum("manual_interventions"), releases=Count("release_id", distinct=True)
    )
    rollbacks = sum(row["rollbacks"] for row in weekly)
    succeeded = sum(row["rollbacks_succeeded"] for row in weekly)
    interventions, releases = total["interventions"] or 0, total["releases"]

    detected = finished.filter(
        is_rollback=False,
        state__in=(RolloutState.FAILED, RolloutState.ROLLED_BACK),
        started_at__isnull=False,
        failure_detected_at__isnull=False,
    )
    seconds = SecondsBetween("failure_detected_at", "started_at")
    (median,), count = dora.percentiles_and_count(detected.values(v=seconds), (0.5,))
    weekly_medians = dora.grouped_percentiles_and_counts(
        detected.values(g=TruncWeek("finished_at", tzinfo=tz), v=seconds), (0.5,)
    )
    return (
        Ratio(
            value=_divide(succeeded, rollbacks),
            numerator=succeeded,
            denominator=rollbacks,
            trend=_ratio_trend(weeks, weekly, "rollbacks_succeeded", "rollbacks"),
        ),
        Ratio(
            value=_divide(interventions, releases, 2),
            numerator=interventions,
            denominator=releases,
            trend=_ratio_trend(weeks, weekly, "interventions", "releases", 2),
        ),
        Measure(value=median, count=count, trend=_percentile_trend(weeks, weekly_medians)),
    )


def _scorecard_shares(weeks: list[date], end: date, filters: dict) -> list[Ratio]:
    """One Ratio per SCORECARD_SHARES key: two queries. The weekly counts are one count per
    key (and one of all snapshots), each of which an index of the snapshots answers alone: the
    (week, level) index for all, a partial index of the snapshots that passed for each key."""
    passing = {key: Count("pk", filter=Q(**{f"results__{key}": True})) for key in SCORECARD_SHARES}
    current = ServiceScore.objects.filter(**filters).aggregate(scored=Count("pk"), **passing)
    snapshots = ScorecardSnapshot.objects.filter(
        week__gte=weeks[0], week__lte=end, **_snapshot_filters(filters)
    ).order_by()

    def counted(rows, name: str):
        return rows.annotate(key=Value(name)).values("week", "key").annotate(n=Count("week"))

    parts = [
        counted(snapshots.filter(**{f"results__{key}": True}), key) for key in SCORECARD_SHARES
    ]
    by_week: dict[date, dict] = {}
    for row in counted(snapshots, "scored").union(*parts, all=True):
        by_week.setdefault(row["week"], {"week": row["week"]})[row["key"]] = row["n"]
    weekly = list(by_week.values())
    return [
        Ratio(
            value=_divide(current[key], current["scored"]),
            numerator=current[key],
            denominator=current["scored"],
            trend=_ratio_trend(weeks, weekly, key, "scored"),
        )
        for key in SCORECARD_SHARES
    ]


def _audit_completeness(
    weeks: list[date], lower: datetime, upper: datetime, filters: dict
) -> AuditCompleteness:
    """One query: every part is an SQL condition, worked out once per release and counted per
    week. Whether an approval is on record and the checks passed are kept on a finished release
    (apps/releases/audit_facts.py), read with its other columns from one covering index; only
    whether Runway rolled it out is a subquery per release."""
    tz = timezone.get_default_timezone()
    own_rollout = Rollout.objects.filter(release=OuterRef("pk"), is_rollback=False)
    # Each part as the condition a complete release meets, under the name of the count of the
    # releases that fail it.
    parts = {
        "missing_requester": Q(requester__isnull=False),
        "missing_approval": Q(change_type=ChangeType.STANDARD, standard_template__isnull=False)
        | (
            (Q(approved_at__isnull=False) | Q(retrospective_done_at__isnull=False))
            & Q(audit_fact("approval_on_record"))
        ),
        "checks_not_passed": Q(audit_fact("checks_passed")),
        "missing_rollout": Q(Exists(own_rollout)),
    }
    # Each release's parts are worked out once (an inner query), then counted by week: counting
    # them where they are worked out would run each Exists once per count that reads it.
    released = Release.objects.filter(
        environment__kind=EnvironmentKind.PRODUCTION,
        state__in=AUDITED_STATES,
        finished_at__gte=lower,
        finished_at__lt=upper,
        **filters,
    ).values(
        week=TruncWeek("finished_at", tzinfo=tz),
        **{name: ExpressionWrapper(condition, BooleanField()) for name, condition in parts.items()},
    )
    sql, params = released.order_by().query.sql_with_params()
    names = list(parts)
    every_part = " AND ".join(f"s.{name}" for name in names)
    missing = ", ".join(f"COUNT(*) FILTER (WHERE NOT s.{name})" for name in names)
    # `sql` is what the ORM compiled (its values are all parameters); the names are ours.
    # MATERIALIZED: else the database folds the inner query back into the counts.
    query = (
        f"WITH s AS MATERIALIZED ({sql}) "  # noqa: S608
        f"SELECT s.week, COUNT(*), COUNT(*) FILTER (WHERE {every_part}), {missing} "
        "FROM s GROUP BY s.week"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        weekly = [
            dict(zip(("week", "releases", "complete", *names), row, strict=True))
            for row in cursor.fetchall()
        ]
    totals = {name: sum(row[name] for row in weekly) for name in ("releases", "complete", *parts)}
    return AuditCompleteness(
        value=_divide(totals["complete"], totals["releases"]),
        trend=_ratio_trend(weeks, weekly, "complete", "releases"),
        **totals,
    )


def _artifact_integrity(
    weeks: list[date], lower: datetime, upper: datetime, filters: dict
) -> Ratio:
    """One query."""
    tz = timezone.get_default_timezone()
    weekly = list(
        Release.objects.filter(
            environment__kind=EnvironmentKind.PRODUCTION,
            started_at__gte=lower,
            started_at__lt=upper,
            **filters,
        )
        .values(week=TruncWeek("started_at", tzinfo=tz))
        # Counted by the columns the index holds, not by the ids it does not.
        .annotate(
            started=Count("*"),
            verified=Count("artifact_verified", filter=Q(artifact_verified=True)),
        )
        .order_by()
    )
    verified, started = (sum(row[key] for row in weekly) for key in ("verified", "started"))
    return Ratio(
        value=_divide(verified, started),
        numerator=verified,
        denominator=started,
        trend=_ratio_trend(weeks, weekly, "verified", "started"),
    )


def _security_gates(weeks: list[date], lower: datetime, upper: datetime, filters: dict) -> Ratio:
    """One query."""
    tz = timezone.get_default_timezone()
    weekly = list(
        Release.objects.filter(
            environment__kind=EnvironmentKind.PRODUCTION,
            supply_chain_first_at__gte=lower,
            supply_chain_first_at__lt=upper,
            **filters,
        )
        .values(week=TruncWeek("supply_chain_first_at", tzinfo=tz))
        .annotate(
            evaluated=Count("*"),
            passed=Count("supply_chain_first_passed", filter=Q(supply_chain_first_passed=True)),
        )
        .order_by()
    )
    passed, evaluated = (sum(row[key] for row in weekly) for key in ("passed", "evaluated"))
    return Ratio(
        value=_divide(passed, evaluated),
        numerator=passed,
        denominator=evaluated,
        trend=_ratio_trend(weeks, weekly, "passed", "evaluated"),
    )


# scope_filters' keys (on a `service` foreign key) as they read on Service itself.
_ON_SERVICE = {"service__owner_id": "owner_id", "service_id": "pk"}


def _standard_pipelines(weeks: list[date], end: date, filters: dict) -> PipelineAdoption:
    """One query."""
    newest = (
        GoldenPathTemplate.objects.filter(name=OuterRef("template__name"))
        .order_by("-version")
        .values("version")[:1]
    )
    on_path = Service.objects.filter(
        template__isnull=False, **{_ON_SERVICE[key]: value for key, value in filters.items()}
    ).annotate(newest=Subquery(newest))
    counts = on_path.aggregate(
        services=Count("pk"),
        latest=Count(
            "pk",
            filter=Q(pipeline_template=F("template__name"), pipeline_template_version=F("newest")),
        ),
        unreported=Count("pk", filter=Q(pipeline_template="")),
    )
    services, latest, unreported = counts["services"], counts["latest"], counts["unreported"]
    value = _divide(latest, services)
    now = timezone.localdate() <= end
    return PipelineAdoption(
        value=value,
        latest=latest,
        outdated=services - latest - unreported,
        unreported=unreported,
        services=services,
        trend=[TrendPoint(week, value if now and week == weeks[-1] else None) for week in weeks],
    )


def _ci(
    weeks: list[date], lower: datetime, upper: datetime, filters: dict
) -> tuple[Ratio, Measure, Measure]:
    """Success rate and duration percentiles: three queries."""
    tz = timezone.get_default_timezone()
    runs = PipelineRun.objects.filter(
        finished_at__gte=lower, finished_at__lt=upper, **filters
    ).exclude(status=PipelineStatus.CANCELLED)
    weekly = list(
        runs.values(week=TruncWeek("finished_at", tzinfo=tz))
        .annotate(
            runs=Count("pk"), succeeded=Count("pk", filter=Q(status=PipelineStatus.SUCCEEDED))
        )
        .order_by()
    )
    (p50, p95), count = dora.percentiles_and_count(
        runs.values(v=F("duration_seconds")), (0.5, 0.95)
    )
    weekly_percentiles = dora.grouped_percentiles_and_counts(
        runs.values(g=TruncWeek("finished_at", tzinfo=tz), v=F("duration_seconds")), (0.5, 0.95)
    )
    succeeded, total = (sum(row[key] for row in weekly) for key in ("succeeded", "runs"))
    return (
        Ratio(
            value=_divide(succeeded, total),
            numerator=succeeded,
            denominator=total,
            trend=_ratio_trend(weeks, weekly, "succeeded", "runs"),
        ),
        Measure(value=p50, count=count, trend=_percentile_trend(weeks, weekly_percentiles, 0)),
        Measure(value=p95, count=count, trend=_percentile_trend(weeks, weekly_percentiles, 1)),
    )


def platform_kpis(
    *, scope: str, name: str = "", start: date | None = None, end: date | None = None
) -> PlatformKpis:
    """The platform KPIs (see the module's docstring) of the organisation, a team (by slug: its
    services) or a service (by name), over the days start..end (default: the last 90 days).

    Thirteen queries for the organisation, fourteen for a team or a service (its lookup),
    however many rows there are."""
    filters, label = scope_filters(scope, name)
    start, end = dora_window(start, end)
    lower, upper = day_bounds(start, end)
    weeks = dora.window_weeks(start, end)
    rollback_success, interventions, detection = _rollouts(weeks, lower, upper, filters)
    latest_template, progressive_delivery, verification_gate = _scorecard_shares(
        weeks, end, filters
    )
    ci_success, ci_p50, ci_p95 = _ci(weeks, lower, upper, filters)
    return PlatformKpis(
        scope=scope,
        name=label,
        start=start,
        end=end,
        rollback_success_rate=rollback_success,
        latest_template_share=latest_template,
        progressive_delivery_share=progressive_delivery,
        verification_gate_share=verification_gate,
        audit_completeness=_audit_completeness(weeks, lower, upper, filters),
        failure_detection_seconds=detection,
        manual_interventions_per_release=interventions,
        artifact_integrity_coverage=_artifact_integrity(weeks, lower, upper, filters),
        security_gate_pass_rate=_security_gates(weeks, lower, upper, filters),
        standard_pipeline_share=_standard_pipelines(weeks, end, filters),
        ci_success_rate=ci_success,
        ci_duration_p50_seconds=ci_p50,
        ci_duration_p95_seconds=ci_p95,
    )

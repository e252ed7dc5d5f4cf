"""Reads of the scorecards: one service's card, the scores, and their spread and trend by team.
Each in a fixed number of queries. Everybody signed in reads scorecards (can_view_reports)."""

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db.models import Count, F, FilteredRelation, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from apps.catalog.models import Service
from apps.insights.models import Level, ScorecardSnapshot, ServiceScore
from apps.insights.scorecards.evaluation import (
    RuleSetting,
    evaluate_services,
    rule_settings,
    tally,
)
from apps.insights.selectors import local_day

LEVELS = tuple(Level.values)


def week_of(day: date) -> date:
    """The Monday of the week `day` is in."""
    return day - timedelta(days=day.weekday())


def _no_levels() -> dict[int, int]:
    return dict.fromkeys(LEVELS, 0)


def _rule_row(setting: RuleSetting, passed: bool | None) -> dict:
    rule = setting.rule
    return {
        "key": rule.key,
        "title": rule.title,
        "how_to_pass": rule.how_to_pass,
        "level": setting.level,
        "level_label": Level(setting.level).label,
        "enabled": setting.is_enabled,
        "passed": passed,
    }


def service_scorecard(service: Service, *, now: datetime | None = None) -> dict:
    """The service's card: each rule (title, how to pass, level, enabled, passed), its level, the
    next level and the enabled rules it still misses for it, and when it was evaluated. The
    stored results are read against the current rule settings, so the card agrees with the
    rules page at once after an admin's change; a service never scored (or scored before a
    rule existed) is evaluated live. 2 queries (1 when the service's row brought its score, see
    score_row_annotations); 6 to 8 when evaluated live."""
    settings = rule_settings()
    stored = _stored_score(service)
    results, evaluated_at = stored if stored is not None else ({}, None)
    if stored is None or any(setting.key not in results for setting in settings):
        now = now or timezone.now()
        evaluations = evaluate_services(service_ids=[service.pk], now=now, settings=settings)
        results = evaluations[0].results if evaluations else {}
        evaluated_at = now
    level, passed, total = tally(results, settings)
    next_level = level + 1 if level < Level.GOLD else None
    rules = [_rule_row(setting, results.get(setting.key)) for setting in settings]
    missing = (
        [
            row
            for row in rules
            if row["enabled"] and not row["passed"] and row["level"] <= next_level
        ]
        if next_level is not None
        else []
    )
    return {
        "level": level,
        "level_label": Level(level).label,
        "next_level": next_level,
        "next_level_label": Level(next_level).label if next_level is not None else "",
        "missing": missing,
        "rules": rules,
        "passed": passed,
        "total": total,
        "evaluated_at": evaluated_at,
        "live": stored is None or evaluated_at != stored[1],
    }


def score_row_annotations() -> dict:
    """The service's stored score, to read with its row (the service page's)."""
    score = ServiceScore.objects.filter(service=OuterRef("pk"))
    return {
        "score_results": Subquery(score.values("results")[:1]),
        "score_evaluated_at": Subquery(score.values("evaluated_at")[:1]),
    }


def _stored_score(service: Service) -> tuple[dict, datetime] | None:
    """Its stored results and when they were evaluated, None if never: from its row when it came
    with score_row_annotations."""
    row = vars(service)
    if "score_evaluated_at" in row:
        at = row["score_evaluated_at"]
        return None if at is None else (row["score_results"], at)
    score = ServiceScore.objects.filter(service_id=service.pk).only("results", "evaluated_at")
    found = score.first()
    return None if found is None else (found.results, found.evaluated_at)


def service_scores(*, team_slug: str | None = None) -> QuerySet[ServiceScore]:
    """The stored scores, by team then service."""
    scores = ServiceScore.objects.select_related("service__owner").order_by(
        "service__owner__slug", "service__name"
    )
    if team_slug:
        scores = scores.filter(service__owner__slug=team_slug)
    return scores


def rule_summaries() -> list[dict]:
    """Each rule with its settings and how many scored services pass it (2 queries)."""
    settings = rule_settings()
    passing = ServiceScore.objects.aggregate(
        scored=Count("id"),
        **{
            f"passing_{setting.key}": Count("id", filter=Q(**{f"results__{setting.key}": True}))
            for setting in settings
        },
    )
    return [
        {
            **_rule_row(setting, None),
            "rule": setting.rule,
            "services_passing": passing[f"passing_{setting.key}"],
            "services_scored": passing["scored"],
        }
        for setting in settings
    ]


def level_distribution(*, team_slug: str | None = None) -> list[dict]:
    """Per team: how many of its services are at each level, in one query. A service never
    scored counts at no level (as the catalog's level filter finds it)."""
    services = Service.objects.all()
    if team_slug:
        services = services.filter(owner__slug=team_slug)
    rows = (
        services.values("owner__slug", "owner__name", "scorecard__level")
        .annotate(count=Count("id"))
        .order_by("owner__slug", "scorecard__level")
    )
    teams: dict[str, dict] = {}
    for row in rows:
        team = teams.setdefault(
            row["owner__slug"],
            {
                "team": row["owner__slug"],
                "team_name": row["owner__name"],
                "services": 0,
                "levels": _no_levels(),
            },
        )
        team["services"] += row["count"]
        team["levels"][row["scorecard__level"] or Level.NONE] += row["count"]
    return list(teams.values())


def level_trend(
    *,
    team_slug: str | None = None,
    service_name: str | None = None,
    start: date,
    end: date,
) -> list[dict]:
    """Weekly counts of services at each level from the snapshots of the weeks starting
    start..end (a team is the snapshot's team, the owner at the time). Weeks without snapshots
    are left out, not shown as zeros. One query."""
    snapshots = ScorecardSnapshot.objects.filter(week__gte=week_of(start), week__lte=end)
    if team_slug:
        snapshots = snapshots.filter(team__slug=team_slug)
    if service_name:
        snapshots = snapshots.filter(service__name=service_name)
    # COUNT(*): the (week, level) index alone answers, without visiting the snapshots.
    rows = snapshots.values("week", "level").annotate(count=Count("*")).order_by("week", "level")
    weeks: dict[date, dict[int, int]] = defaultdict(_no_levels)
    for row in rows:
        weeks[row["week"]][row["level"]] = row["count"]
    return [{"week": week, "levels": levels} for week, levels in weeks.items()]


def changes_since(
    *, team_slug: str | None = None, weeks: int = 4, today: date | None = None
) -> list[dict]:
    """Services whose level in the latest snapshot (the latest week up to today) differs from
    their snapshot `weeks` weeks before: "what changed since last month". A service with no
    snapshot then is new (before: None). By team, then service. Two queries."""
    today = today or local_day(timezone.now())
    latest = ScorecardSnapshot.objects.filter(week__lte=today).aggregate(week=Max("week"))["week"]
    if latest is None:
        return []
    earlier = latest - timedelta(weeks=weeks)
    latest_rows = Q(week=latest, team__slug=team_slug) if team_slug else Q(week=latest)
    # The database compares the two weeks, joining each service's snapshot of then (one join,
    # not a subquery per service): only the services that changed come back.
    rows = (
        ScorecardSnapshot.objects.filter(latest_rows)
        .annotate(
            then=FilteredRelation(
                "service__scorecard_snapshots",
                condition=Q(service__scorecard_snapshots__week=earlier),
            )
        )
        .annotate(before=F("then__level"))
        .filter(Q(before__isnull=True) | ~Q(before=F("level")))
        .order_by()
        .values("service__name", "team__slug", "before", "level")
    )
    changes = [
        {
            "service": row["service__name"],
            "team": row["team__slug"],
            "before": row["before"],
            "after": row["level"],
        }
        for row in rows
    ]
    return sorted(changes, key=lambda change: (change["team"] or "", change["service"]))

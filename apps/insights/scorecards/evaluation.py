"""Evaluating the rules for many services in a fixed number of queries, however many services:

1. the rule settings (ScorecardRule);
2. the services, annotated with whether the owner team has active members, whether an
   emergency release awaits its retrospective review, their template's version and the
   latest version of a template of that name;
3. their production environments;
4. the active approval policies (apps.releases.policies.active_policies: 1 to 3 queries);
5. the production roll-up of the last 90 days, summed by service.

Seven queries at most. Then each rule is a Python predicate on each service's facts.
"""

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from apps.accounts.models import TeamMembership
from apps.catalog.models import Environment, EnvironmentKind, GoldenPathTemplate, Service
from apps.insights.models import DailyDeploymentRollup, Level, ScorecardRule
from apps.insights.scorecards.rules import (
    CHANGE_FAILURE_DAYS,
    RULES,
    WEEKS_OF_DEPLOYMENTS,
    Rule,
    ServiceFacts,
)
from apps.insights.selectors import local_day
from apps.releases.models import Release
from apps.releases.policies import active_policies
from apps.releases.selectors import needing_retrospective

SERVICE_FIELDS = (
    "id",
    "name",
    "owner",
    "tier",
    "runbook_url",
    "on_call",
    "strategy",
    "strategy_params",
    "template",
)


@dataclass(frozen=True)
class RuleSetting:
    """A rule with its level and switch as an admin set them."""

    rule: Rule
    level: int
    is_enabled: bool

    @property
    def key(self) -> str:
        return self.rule.key


@dataclass(frozen=True)
class Evaluation:
    service_id: int
    owner_id: int
    results: dict[str, bool]  # every rule, enabled or not
    level: int
    passed: int  # enabled rules only
    total: int


def rule_settings() -> list[RuleSetting]:
    """Every rule defined in code with its setting (an admin's row, else its default level,
    enabled), by level then in the order of RULES."""
    rows = {row.key: row for row in ScorecardRule.objects.all()}
    settings = []
    for index, rule in enumerate(RULES):
        row = rows.get(rule.key)
        level, enabled = (row.level, row.is_enabled) if row else (rule.default_level, True)
        settings.append((level, index, RuleSetting(rule, level, enabled)))
    return [setting for _, _, setting in sorted(settings, key=lambda item: item[:2])]


def level_for(results: Mapping[str, bool], rules: Iterable[RuleSetting]) -> int:
    """The highest level L such that every enabled rule of level <= L passes (Gold when no
    enabled rule fails). A level without enabled rules is passed only below a failing one."""
    failing = [rule.level for rule in rules if rule.is_enabled and not results.get(rule.key)]
    return min(failing) - 1 if failing else Level.GOLD


def tally(results: Mapping[str, bool], rules: Iterable[RuleSetting]) -> tuple[int, int, int]:
    """(level, passed, total), counting the enabled rules only."""
    enabled = [rule for rule in rules if rule.is_enabled]
    passed = sum(1 for rule in enabled if results.get(rule.key))
    return level_for(results, enabled), passed, len(enabled)


def _weeks(today: date) -> list[tuple[date, date]]:
    """The last WEEKS_OF_DEPLOYMENTS 7-day periods ending today, newest first."""
    return [
        (today - timedelta(days=7 * index + 6), today - timedelta(days=7 * index))
        for index in range(WEEKS_OF_DEPLOYMENTS)
    ]


def _production_rollups(service_ids: Collection[int] | None, today: date) -> dict[int, dict]:
    weeks = _weeks(today)
    failure_start = today - timedelta(days=CHANGE_FAILURE_DAYS - 1)
    rows = DailyDeploymentRollup.objects.filter(
        is_production=True, day__gte=min(failure_start, weeks[-1][0]), day__lte=today
    )
    if service_ids is not None:
        rows = rows.filter(service_id__in=service_ids)
    per_week = {
        f"week_{index}": Sum("deployments", filter=Q(day__gte=start, day__lte=end))
        for index, (start, end) in enumerate(weeks)
    }
    per_service = (
        rows.values("service_id")
        .annotate(
            production_deployments=Sum("deployments", filter=Q(day__gte=failure_start)),
            production_failures=Sum("failures", filter=Q(day__gte=failure_start)),
            **per_week,
        )
        .order_by()
    )
    return {row["service_id"]: row for row in per_service}


def _services(service_ids: Collection[int] | None, now: datetime):
    members = TeamMembership.objects.filter(team_id=OuterRef("owner_id"), user__is_active=True)
    awaiting_review = needing_retrospective().filter(service_id=OuterRef("pk"))
    newest = (
        GoldenPathTemplate.objects.filter(name=OuterRef("template__name"))
        .order_by("-version")
        .values("version")[:1]
    )
    latest_production = (
        Release.objects.filter(
            service_id=OuterRef("pk"),
            environment__kind=EnvironmentKind.PRODUCTION,
            started_at__lte=now,
        )
        .order_by("-started_at", "-id")
        .values("artifact_verified")[:1]
    )
    services = (
        Service.objects.only(*SERVICE_FIELDS)
        .annotate(
            latest_production_verified=Subquery(latest_production),
            owner_has_members=Exists(members),
            open_emergency=Exists(awaiting_review),
            template_version=F("template__version"),
            latest_template_version=Subquery(newest),
        )
        .order_by("pk")
    )
    return services if service_ids is None else services.filter(pk__in=service_ids)


def _production_environments(service_ids: Collection[int] | None) -> dict[int, list[Environment]]:
    environments = Environment.objects.filter(kind=EnvironmentKind.PRODUCTION).only(
        "id", "service", "name", "kind"
    )
    if service_ids is not None:
        environments = environments.filter(service_id__in=service_ids)
    by_service = defaultdict(list)
    for environment in environments.order_by("service_id", "order"):
        by_service[environment.service_id].append(environment)
    return by_service


def evaluate_services(
    *,
    service_ids: Collection[int] | None = None,
    now: datetime | None = None,
    settings: list[RuleSetting] | None = None,
) -> list[Evaluation]:
    """Every rule for the given services (default: all), in a fixed number of queries."""
    if service_ids is not None and not service_ids:
        return []
    now = now or timezone.now()
    today = local_day(now)
    settings = rule_settings() if settings is None else settings
    services = list(_services(service_ids, now))
    if not services:
        return []
    environments = _production_environments(service_ids)
    policies = active_policies()
    rollups = _production_rollups(service_ids, today)

    evaluations = []
    for service in services:
        rollup = rollups.get(service.pk, {})
        facts = ServiceFacts(
            service=service,
            owner_has_members=service.owner_has_members,
            open_emergency=service.open_emergency,
            production_environments=environments.get(service.pk, []),
            active_policies=policies,
            template_version=service.template_version,
            latest_template_version=service.latest_template_version,
            weekly_production_deployments=tuple(
                rollup.get(f"week_{index}") or 0 for index in range(WEEKS_OF_DEPLOYMENTS)
            ),
            production_deployments=rollup.get("production_deployments") or 0,
            production_failures=rollup.get("production_failures") or 0,
            latest_production_verified=service.latest_production_verified,
        )
        results = {rule.key: bool(rule.check(facts)) for rule in RULES}
        level, passed, total = tally(results, settings)
        evaluations.append(
            Evaluation(
                service_id=service.pk,
                owner_id=service.owner_id,
                results=results,
                level=level,
                passed=passed,
                total=total,
            )
        )
    return evaluations

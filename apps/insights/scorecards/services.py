"""Writes of the scorecards: the scores (recomputed, never edited), the weekly snapshots and the
rule settings. Scores and snapshots are derived data, like the daily roll-up: they are not
audited. A change to a rule is."""

from collections.abc import Collection
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record, snapshot
from apps.core import outbox
from apps.insights.models import Level, ScorecardRule, ScorecardSnapshot, ServiceScore
from apps.insights.scorecards.evaluation import Evaluation, evaluate_services
from apps.insights.scorecards.rules import RULES_BY_KEY
from apps.insights.scorecards.selectors import week_of
from apps.insights.selectors import local_day
from apps.insights.tasks import scorecards_refresh_task

# Rows per INSERT ... ON CONFLICT: 6 parameters a row stays far below PostgreSQL's 65,535.
BATCH_SIZE = 1000
RULE_FIELDS = ("level", "is_enabled")
SCORE_FIELDS = ("level", "results", "passed", "total")


def _store_scores(evaluations: list[Evaluation], now: datetime) -> None:
    ServiceScore.objects.bulk_create(
        [
            ServiceScore(
                service_id=evaluation.service_id,
                level=evaluation.level,
                results=evaluation.results,
                passed=evaluation.passed,
                total=evaluation.total,
                evaluated_at=now,
            )
            for evaluation in evaluations
        ],
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["service"],
        update_fields=[*SCORE_FIELDS, "evaluated_at"],
    )


def scorecards_refresh(
    *, service_ids: Collection[int] | None = None, now: datetime | None = None
) -> int:
    """Evaluate the services (default: all) and store their scores. Returns how many. A fixed
    number of queries per BATCH_SIZE services (see evaluation.py)."""
    now = now or timezone.now()
    evaluations = evaluate_services(service_ids=service_ids, now=now)
    with transaction.atomic():
        _store_scores(evaluations, now)
    return len(evaluations)


def scorecard_snapshots_take(*, week: date | None = None, now: datetime | None = None) -> int:
    """Refresh every score and keep it as the snapshot of `week` (a Monday; default: this
    week's), stamped with the owner team. Idempotent per (service, week): taking it again the
    same week replaces that week's snapshot. Returns the number of snapshots written."""
    now = now or timezone.now()
    week = week or week_of(local_day(now))
    if week.weekday() != 0:
        raise ValidationError({"week": f"{week.isoformat()} is not a Monday."})
    evaluations = evaluate_services(now=now)
    with transaction.atomic():
        _store_scores(evaluations, now)
        ScorecardSnapshot.objects.bulk_create(
            [
                ScorecardSnapshot(
                    service_id=evaluation.service_id,
                    team_id=evaluation.owner_id,
                    week=week,
                    level=evaluation.level,
                    results=evaluation.results,
                    passed=evaluation.passed,
                    total=evaluation.total,
                    taken_at=now,
                )
                for evaluation in evaluations
            ],
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["service", "week"],
            update_fields=[*SCORE_FIELDS, "team", "taken_at"],
        )
    return len(evaluations)


def scorecard_rule_update(*, actor: User, key: str, level: int, is_enabled: bool) -> ScorecardRule:
    """Move a rule to another level and switch it on or off (platform admins). Every score is
    evaluated again after the commit, by a task."""
    permissions.require(
        permissions.can_manage_scorecards(actor), "Only platform admins change scorecard rules."
    )
    if key not in RULES_BY_KEY:
        raise ValidationError({"key": f"No scorecard rule is called “{key}”."})
    if level not in (Level.BRONZE, Level.SILVER, Level.GOLD):
        raise ValidationError({"level": "Choose Bronze, Silver or Gold."})
    with transaction.atomic():
        # A rule nobody changed yet has no row: it stands at its default level, switched on.
        ScorecardRule.objects.get_or_create(
            key=key, defaults={"level": RULES_BY_KEY[key].default_level}
        )
        rule = ScorecardRule.objects.select_for_update().get(key=key)
        before = snapshot(rule, RULE_FIELDS)
        rule.level, rule.is_enabled = level, bool(is_enabled)
        after = snapshot(rule, RULE_FIELDS)
        if after == before:
            return rule
        rule.full_clean()
        rule.save(update_fields=[*RULE_FIELDS, "updated_at"])
        audit_record(
            actor=actor, action="scorecard_rule.update", target=rule, before=before, after=after
        )
        outbox.enqueue(scorecards_refresh_task.name)
    return rule

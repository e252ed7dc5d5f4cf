"""The demo's scorecard history: a snapshot per service for each of the last SNAPSHOT_WEEKS
weeks, as the scorecards evaluate the history as of then, with the catalog's side told by
STORY."""

from datetime import date, timedelta

from apps.catalog.models import Service
from apps.demo.history_plan import local_time
from apps.insights.models import ScorecardSnapshot
from apps.insights.scorecards.evaluation import evaluate_services, rule_settings, tally
from apps.releases.models import ChangeType, Release

SNAPSHOT_WEEKS = 26
SECOND = timedelta(seconds=1)

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


def snapshots_write(services: list[Service], this_monday: date) -> list[ScorecardSnapshot]:
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
        began = local_time(week, 0)
        for evaluation in evaluate_services(service_ids=list(names), now=began - SECOND):
            results = dict(evaluation.results)
            for key, since in STORY.get(names[evaluation.service_id], {}).items():
                results[key] = results[key] and weeks_ago <= since
            # The review queue as it stood then, not as it stands today.
            results["no_open_emergency"] = not any(
                service_id == evaluation.service_id
                and started is not None
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

"""Runway's own deployments: every finishing transition of a release (into succeeded, failed or
rolled back, and a later rollback of a finished release) makes or changes that release's
deployment fact (source runway, external id `release/<id>`), exactly once.

The road: the transition commits together with an outbox row (apps.insights.receivers) whose
task, `insights.record_deployment`, calls `release_transition_record`. That writes the
transition's RecordedReleaseTransition in the same transaction as the fact, so a task delivered
twice, or the repair job after it, changes nothing. The repair job (beat,
`insights.record_missed_deployments`) runs `release_transitions_record_missed`: the oldest
finishing transitions of the last days that have no such row, a bounded batch per run, so a
task lost on its way still gets its transition recorded.
"""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.catalog.models import EnvironmentKind
from apps.insights.models import DeploymentFact, DeploymentResult, FactSource
from apps.insights.models import RecordedReleaseTransition as Recorded
from apps.insights.services.facts import deployment_fact_record
from apps.releases.models import ReleaseState, ReleaseTransition

logger = logging.getLogger(__name__)

# The states a release finishes in, and what each makes of its deployment.
RESULTS: dict[str, str] = {
    ReleaseState.SUCCEEDED: DeploymentResult.SUCCEEDED,
    ReleaseState.FAILED: DeploymentResult.FAILED,
    ReleaseState.ROLLED_BACK: DeploymentResult.ROLLED_BACK,
}
# How far back, and how many per run, the repair job looks for transitions no task recorded.
MISSED_LOOK_BACK = timedelta(days=7)
MISSED_BATCH = 200


def is_finishing(transition: ReleaseTransition) -> bool:
    return transition.to_state in RESULTS


@transaction.atomic
def release_transition_record(*, transition_id: int) -> bool:
    """Record one finishing transition as its release's deployment fact, unless it was recorded
    before. Returns whether it was recorded now. A transition that cannot become a fact (its
    release has no start) is logged and counts as recorded: nothing would change that later."""
    transition = (
        ReleaseTransition.objects.filter(pk=transition_id, to_state__in=RESULTS)
        .select_related("release__service", "release__environment")
        .first()
    )
    if transition is None:
        return False  # not a finish, or gone with its release
    try:
        # A run recording the same transition at this moment holds this row: wait for it.
        with transaction.atomic():
            Recorded.objects.create(transition=transition)
    except IntegrityError:
        return False
    try:
        _fact_record(transition)
    except ValidationError as exc:
        logger.warning("Release transition %s not recorded for the reports: %s", transition_id, exc)
    return True


def _fact_record(transition: ReleaseTransition) -> tuple[DeploymentFact, bool]:
    release = transition.release
    if transition.from_state == ReleaseState.IN_PROGRESS:
        finished_at, rolled_back_at = transition.at, None
    else:
        # A later rollback: the deployment keeps the finish of its own transition (the
        # release's `finished_at` has moved on to the rollback's).
        finished_at = (
            release.transitions.filter(from_state=ReleaseState.IN_PROGRESS, to_state__in=RESULTS)
            .order_by("at", "id")
            .values_list("at", flat=True)
            .first()
        ) or transition.at
        rolled_back_at = transition.at
    return deployment_fact_record(
        source=FactSource.RUNWAY,
        external_id=f"release/{release.pk}",
        service=release.service,
        environment=release.environment.name,
        is_production=release.environment.kind == EnvironmentKind.PRODUCTION,
        version=release.version,
        started_at=release.started_at,
        finished_at=finished_at,
        result=RESULTS[transition.to_state],
        rolled_back_at=rolled_back_at,
        commits=[{"sha": c.sha, "committed_at": c.committed_at} for c in release.commits.all()],
    )


def _missed(*, since: datetime | None):
    """Ids of the finishing transitions since `since` (None: ever) not recorded yet, oldest
    first."""
    missed = (
        ReleaseTransition.objects.filter(to_state__in=RESULTS)
        .filter(~Exists(Recorded.objects.filter(transition=OuterRef("pk"))))
        .order_by("at", "id")
    )
    if since is not None:
        missed = missed.filter(at__gte=since)
    return missed.values_list("pk", flat=True)


def release_transitions_record_missed(
    *, look_back: timedelta = MISSED_LOOK_BACK, limit: int = MISSED_BATCH
) -> int:
    """Record at most `limit` of the finishing transitions of the last `look_back` that no task
    recorded, oldest first, one transaction each. Returns how many were recorded now."""
    since = timezone.now() - look_back
    return _record_each(list(_missed(since=since)[:limit]))


def release_transitions_record_all() -> int:
    """Record every finishing transition not recorded yet, however old (the backfill command,
    the demo). Returns how many were recorded now."""
    return _record_each(list(_missed(since=None)))


def _record_each(transition_ids: list[int]) -> int:
    """One transition that fails does not stop the others (it is tried again next time); a
    database that is away stops the run, for the task to wait it out."""
    recorded = 0
    for transition_id in transition_ids:
        try:
            recorded += release_transition_record(transition_id=transition_id)
        except OperationalError:
            raise
        except Exception:
            logger.exception("Release transition %s could not be recorded", transition_id)
    return recorded

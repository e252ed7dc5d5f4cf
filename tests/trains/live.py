"""A train part-way through its first wave, written straight to the database (no executor, no
cluster): for the tests of the train page's live stream and of the page itself."""

from django.utils import timezone

from apps.catalog.models import Strategy
from apps.releases.models import Release, ReleaseState
from apps.rollouts.models import Rollout, RolloutState, RolloutStep, StepState
from apps.trains.models import Train, TrainState
from tests.rollouts.builders import CANARY_PLAN


def running(train: Train) -> Train:
    Train.objects.filter(pk=train.pk).update(state=TrainState.RUNNING, started_at=timezone.now())
    train.refresh_from_db()
    return train


def member(train: Train, service_name: str) -> Release:
    return train.members.select_related("release__service").get(service_name=service_name).release


def rolling_out(release: Release, *, current_step: int = 1) -> Rollout:
    """The member's canary under way at `current_step` (of CANARY_PLAN's six)."""
    Release.objects.filter(pk=release.pk).update(state=ReleaseState.IN_PROGRESS)
    rollout = Rollout.objects.create(
        release=release,
        service=release.service,
        environment=release.environment,
        namespace=release.environment.namespace,
        strategy=Strategy.CANARY,
        image=release.version,
        state=RolloutState.RUNNING,
        current_step=current_step,
        replicas=2,
        started_at=timezone.now(),
    )
    RolloutStep.objects.bulk_create(
        RolloutStep(
            rollout=rollout,
            index=index,
            kind=kind,
            params=params,
            state=StepState.SUCCEEDED
            if index < current_step
            else StepState.RUNNING
            if index == current_step
            else StepState.PENDING,
        )
        for index, (kind, params) in enumerate(CANARY_PLAN)
    )
    return rollout


def succeed(rollout: Rollout) -> None:
    """What the executor writes when the member's rollout is done (the caller announces it)."""
    now = timezone.now()
    rollout.steps.update(state=StepState.SUCCEEDED)
    Rollout.objects.filter(pk=rollout.pk).update(
        state=RolloutState.SUCCEEDED, current_step=len(CANARY_PLAN), finished_at=now, updated_at=now
    )
    Release.objects.filter(pk=rollout.release_id).update(
        state=ReleaseState.SUCCEEDED, finished_at=now, updated_at=now
    )

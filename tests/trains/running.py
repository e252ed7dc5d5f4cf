"""Driving a train in the test process, as workers would: each train step asked for through
the outbox runs, and every rollout of its members moves one step, until nothing moves."""

import time

from apps.core.models import OutboxMessage
from apps.releases.models import Release
from apps.rollouts import services as rollout_services
from apps.rollouts.kube import Kube
from apps.rollouts.models import Rollout
from apps.rollouts.trains import train_step
from apps.trains.models import Train
from apps.trains.services import TRAIN_STEP_TASK
from apps.trains.transitions import EXECUTING
from tests.rollouts.executing import RUNNABLE, drive, release_of


def deploy_first_versions(services, *, actor) -> None:
    """Version 1 of each service running in prod, so a rollback has something to go back to."""
    for service in services:
        release = release_of(service, f"{service.name}:1", env="prod", actor=actor)
        drive(rollout_services.rollout_start(actor=actor, release=release))


def run_pending_steps() -> int:
    """Run the train steps the outbox holds (a worker's share), oldest first."""
    ran = 0
    for message in OutboxMessage.objects.filter(
        task_name=TRAIN_STEP_TASK, sent_at__isnull=True
    ).order_by("id"):
        OutboxMessage.objects.filter(pk=message.pk).update(sent_at=message.created_at)
        train_step(*message.args, **message.kwargs)
        ran += 1
    return ran


def member_rollouts(train: Train):
    return Rollout.objects.filter(release__train_membership__train=train)


def run_train(train: Train, *, until=None, steps=True, timeout: float = 120.0) -> Train:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        train.refresh_from_db()
        if until is not None and until(train):
            return train
        ran = run_pending_steps() if steps else 0
        active = list(
            member_rollouts(train).filter(state__in=RUNNABLE).values_list("pk", flat=True)
        )
        for rollout_id in active:
            Rollout.objects.filter(pk=rollout_id).update(next_run_at=None)
            rollout_services.rollout_advance(rollout_id)
        train.refresh_from_db()
        if not ran and not active and (train.state not in EXECUTING or not steps):
            return train
        time.sleep(0.05)
    raise AssertionError(f"train {train.pk} still {train.state}")


def images(services) -> dict[str, str]:
    kube = Kube()
    return {s.name: kube.deployment(s.name, s.name).image for s in services}


def releases_by_service(train: Train) -> dict[str, Release]:
    return {
        release.service.name: release
        for release in Release.objects.filter(train_membership__train=train).select_related(
            "service"
        )
    }

"""Thin Celery tasks around the executor. Each run does one step's worth of work; waiting is a
new task with a countdown. acks_late with reject-on-worker-lost returns a task to the queue if
its worker dies, and the reconciler resumes whatever is still overdue. No countdown is longer
than a minute: a longer wait is a chain of hops (see services.py)."""

from celery import shared_task
from celery.signals import worker_init

from apps.rollouts import kube


@worker_init.connect
def _load_kubernetes_client(**_kwargs) -> None:
    kube.preload()


@shared_task(
    name="rollouts.advance", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def rollout_advance_task(rollout_id: int, due: str | None = None) -> None:
    from apps.rollouts.services import rollout_advance

    rollout_advance(rollout_id, due)


@shared_task(name="rollouts.dispatch", acks_late=True, ignore_result=True)
def rollouts_dispatch_task() -> list[int]:
    from apps.rollouts.services import rollouts_dispatch

    return rollouts_dispatch()


@shared_task(name="rollouts.reconcile", acks_late=True, ignore_result=True)
def rollouts_reconcile_task() -> list[int]:
    from apps.rollouts.services import rollouts_reconcile

    return rollouts_reconcile()


@shared_task(
    name="rollouts.train_step", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def train_step_task(train_id: int, why: str = "") -> None:
    from apps.rollouts.trains import train_step

    train_step(train_id, why)


@shared_task(name="rollouts.trains_reconcile", acks_late=True, ignore_result=True)
def trains_reconcile_task() -> list[int]:
    from apps.rollouts.trains import trains_reconcile

    return trains_reconcile()

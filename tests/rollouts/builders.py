"""Rollout rows written straight to the database, for tests of the pages, the API and the live
stream: no executor and no cluster. Tests of running rollouts go through the services."""

from datetime import timedelta

from django.utils import timezone

from apps.catalog.models import Environment, EnvironmentKind, Strategy
from apps.releases.models import Release, ReleaseState
from apps.rollouts.models import (
    ACTIVE_STATES,
    Rollout,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    StepState,
)
from tests.factories import ServiceFactory

CANARY_PLAN = [
    ("canary_start", {}),
    ("set_weight", {"weight": 20}),
    ("pause", {}),
    ("analysis", {"template": "http-ok"}),
    ("set_weight", {"weight": 50}),
    ("canary_promote", {}),
]

RELEASE_STATE = {
    RolloutState.SUCCEEDED: ReleaseState.SUCCEEDED,
    RolloutState.FAILED: ReleaseState.FAILED,
    RolloutState.ABORTED: ReleaseState.ROLLED_BACK,
    RolloutState.ROLLED_BACK: ReleaseState.ROLLED_BACK,
}


def rollout_row(
    *,
    service,
    environment,
    requester,
    state: str = RolloutState.RUNNING,
    current_step: int = 2,
    plan=CANARY_PLAN,
    weight: int = 20,
    version: str = "registry/web:2.0.0",
    **fields,
) -> Rollout:
    """A canary rollout of a release, its steps done up to `current_step`, and a few events."""
    now = timezone.now()
    active = state in ACTIVE_STATES
    release = Release.objects.create(
        service=service,
        environment=environment,
        version=version,
        title=f"Ship {version}",
        planned_start=now - timedelta(minutes=10),
        planned_end=now + timedelta(minutes=50),
        requester=requester,
        state=ReleaseState.IN_PROGRESS if active else RELEASE_STATE[state],
    )
    fields.setdefault("previous_image", "registry/web:1.9.0")
    fields.setdefault("previous_template", {"metadata": {"labels": {"app": service.name}}})
    rollout = Rollout.objects.create(
        release=release,
        service=service,
        environment=environment,
        namespace=environment.namespace,
        strategy=Strategy.CANARY,
        image=version,
        state=state,
        current_step=current_step if active else len(plan),
        weight=weight if active else 0,
        replicas=5,
        started_by=requester,
        started_at=now - timedelta(minutes=5),
        finished_at=None if active else now,
        **fields,
    )

    def step_state(index):
        if not active or index < current_step:
            return StepState.SUCCEEDED
        if index == current_step:
            return StepState.WAITING if state == RolloutState.PAUSED else StepState.RUNNING
        return StepState.PENDING

    RolloutStep.objects.bulk_create(
        RolloutStep(
            rollout=rollout,
            index=index,
            kind=kind,
            params=params,
            state=step_state(index),
            message=f"{kind} done" if step_state(index) == StepState.SUCCEEDED else "",
            # A step that is done or under way has begun.
            started_at=now - timedelta(minutes=1) if index <= current_step or not active else None,
        )
        for index, (kind, params) in enumerate(plan)
    )
    RolloutEvent.objects.bulk_create(
        [
            RolloutEvent(rollout=rollout, message=f"Started canary of {version}"),
            RolloutEvent(rollout=rollout, step_index=0, message="Canary web-canary created"),
            RolloutEvent(
                rollout=rollout,
                step_index=1,
                level=RolloutEvent.Level.WARNING,
                message="Cluster unreachable (timeout); retry 1 in 2 s",
            ),
        ]
    )
    return rollout


def many_rollouts(count: int, *, requester, services: int = 5) -> list[Rollout]:
    """`count` rollouts over a few services: the newest of each service still running."""
    made = []
    for number in range(services):
        service = ServiceFactory(name=f"svc-{number}", strategy=Strategy.CANARY)
        environment = Environment.objects.create(
            service=service, name="prod", kind=EnvironmentKind.PRODUCTION, order=1, namespace="prod"
        )
        share = count // services + (1 if number < count % services else 0)
        for index in range(share):
            made.append(
                rollout_row(
                    service=service,
                    environment=environment,
                    requester=requester,
                    state=RolloutState.RUNNING if index == share - 1 else RolloutState.SUCCEEDED,
                    version=f"registry/{service.name}:{index}",
                )
            )
    return made

"""A worker may die after its Kubernetes calls and before its transaction commits; the step then
runs again. Here every single run of the executor is first made and thrown away (its
transaction rolled back, as a killed worker's is), then made again: the rollout must end as an
uninterrupted one does, with the same writes to the cluster, none of them twice."""

import pytest
from django.db import transaction

from apps.rollouts import services
from apps.rollouts.kube import Kube
from apps.rollouts.models import Rollout, RolloutState
from tests.rollouts.executing import RUNNABLE, drive, log_length, release_of, writes_to

PLANS = {
    "rolling": {},
    "canary": {"steps": [{"set_weight": 50}, {"pause": {"seconds": 0}}, {"set_weight": 100}]},
    "blue-green": {
        "auto_promotion": True,
        "auto_promotion_seconds": 0,
        "scale_down_delay_seconds": 0,
    },
}


class WorkerDied(Exception):
    pass


def advance_dying_once(rollout: Rollout) -> None:
    """One run whose work on the cluster happens and whose transaction is lost, then the run
    the next worker makes."""
    try:
        with transaction.atomic():
            services.rollout_advance(rollout.pk)
            raise WorkerDied
    except WorkerDied:
        pass
    services.rollout_advance(rollout.pk)


def drive_dying(rollout: Rollout, *, runs: int = 400) -> Rollout:
    for _ in range(runs):
        rollout.refresh_from_db()
        if rollout.state not in RUNNABLE:
            return rollout
        Rollout.objects.filter(pk=rollout.pk).update(next_run_at=None)
        advance_dying_once(rollout)
    raise AssertionError(f"rollout {rollout.pk} still {rollout.state} after {runs} runs")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("strategy", sorted(PLANS))
@pytest.mark.parametrize(
    ("version", "outcome"), [("2", "succeeded"), ("2-crashloop", "rolled_back")]
)
def test_every_run_survives_its_worker_dying_before_the_commit(
    cluster, shop, developer, settings, tmp_path, strategy, version, outcome
):
    settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS = 3
    request_log = tmp_path / "simulator-requests.log"
    results = {}
    for name, run in (("calm", drive), ("dying", drive_dying)):
        service = shop(strategy, PLANS[strategy], replicas=2, name=f"{name}-{strategy}")
        first = run(
            services.rollout_start(
                actor=developer, release=release_of(service, "shop:1", actor=developer)
            )
        )
        assert first.state == RolloutState.SUCCEEDED
        start = log_length(request_log)
        rollout = services.rollout_start(
            actor=developer, release=release_of(service, f"shop:{version}", actor=developer)
        )
        rollout = drive(rollout, timeout=40) if run is drive else drive_dying(rollout)
        results[name] = (rollout, writes_to(request_log, service.name, after=start))

    (calm, calm_writes), (dying, dying_writes) = results["calm"], results["dying"]
    assert dying.state == calm.state == outcome
    assert dying.previous_image == "shop:1"
    assert dying_writes == calm_writes
    assert sum(calm_writes.values()) > 0
    served = Kube().deployment("shop", live_deployment(dying))
    assert served.image == ("shop:1" if outcome == "rolled_back" else f"shop:{version}")
    assert served.available == 2


def live_deployment(rollout: Rollout) -> str:
    """The Deployment that serves the service once the rollout has ended."""
    if rollout.strategy != "blue-green":
        return rollout.service.name
    state = rollout.plan_state
    colour = state["preview"] if rollout.state == RolloutState.SUCCEEDED else state["active"]
    return f"{rollout.service.name}-{colour}"

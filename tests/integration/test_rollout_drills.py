"""Fault drills with real worker processes, on Redis and on RabbitMQ, against the simulator in a
process of its own: workers killed with SIGKILL at seeded points of twenty rollouts, and a
two-hour pause on a moved clock."""

import random
import signal
import time
from datetime import timedelta

import pytest

from apps.catalog.models import Environment
from apps.core import clock
from apps.rollouts import services
from apps.rollouts.kube import Kube
from apps.rollouts.models import Rollout, RolloutEvent, RolloutState, StepState
from tests.factories import ServiceFactory
from tests.processes import wait_for
from tests.rollouts.executing import RUNNABLE, finishes, log_length, release_of, writes_to

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SEED = 20261205
ROLLOUTS = 20
KILLS = 8
PLANS = {
    "rolling": {},
    "canary": {"steps": [{"set_weight": 34}, {"pause": {"seconds": 1}}, {"set_weight": 100}]},
    "blue-green": {
        "auto_promotion": True,
        "auto_promotion_seconds": 1,
        "scale_down_delay_seconds": 1,
    },
}


def drill_service(index: int, owner, role: str):
    """The index-th service of the drill: `ref` ones are rolled out by this process without
    interruption, `drl` ones by workers that get killed."""
    strategy = sorted(PLANS)[index % 3]
    service = ServiceFactory(
        name=f"{role}{index:02d}-{strategy}",
        owner=owner,
        strategy=strategy,
        strategy_params=PLANS[strategy],
    )
    Environment.objects.create(
        service=service,
        name="dev",
        kind="development",
        order=1,
        namespace="drill",
        replicas=(1, 3)[index // 3 % 2],
    )
    return service


def start_all(services_, version_of, actor) -> list[Rollout]:
    return [
        services.rollout_start(actor=actor, release=release_of(service, version_of(i), actor=actor))
        for i, service in enumerate(services_)
    ]


def ended(rollouts: list[Rollout]) -> bool:
    return not Rollout.objects.filter(pk__in=[r.pk for r in rollouts], state__in=RUNNABLE).exists()


def run_here(rollouts: list[Rollout], *, timeout: float = 90) -> None:
    """Advance the rollouts in this process, each when it is due, as an undisturbed worker."""
    deadline = time.monotonic() + timeout
    while not ended(rollouts):
        assert time.monotonic() < deadline, "the reference rollouts did not end"
        due = Rollout.objects.filter(
            pk__in=[r.pk for r in rollouts], state__in=RUNNABLE, next_run_at__lte=clock.now()
        ).values_list("pk", flat=True)
        for pk in due:
            services.rollout_advance(pk)
        time.sleep(0.05)


def version_of(index: int) -> str:
    return "drill:2-crashloop" if index % 4 == 3 else "drill:2"


# Three phases of twenty rollouts each (the first versions, the reference, the drilled run): on
# a busy machine they outlast the suite's 300 s per test, without anything being stuck.
@pytest.mark.timeout(480)
def test_twenty_rollouts_end_as_undisturbed_ones_do_while_their_worker_is_killed(
    workers, developer, payments, settings, tmp_path
):
    # A worker restarting takes seconds: the deadline is well above it, as it is in production
    # (600 s), so that only a bad version fails. Crash loops are caught by their restarts.
    settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS = 10
    deadline_env = {"ROLLOUT_PROGRESS_DEADLINE_SECONDS": "10"}
    rng = random.Random(SEED)
    request_log = tmp_path / "simulator-requests.log"
    # A worker takes seconds to boot (tens on a busy machine): each next one boots now, while
    # the reference runs, and takes over the moment the one before it is killed.
    standbys = [workers.standby(env=deadline_env) for _ in range(KILLS + 1)]
    reference_services = [drill_service(i, payments, "ref") for i in range(ROLLOUTS)]
    drill_services = [drill_service(i, payments, "drl") for i in range(ROLLOUTS)]
    run_here(start_all(reference_services + drill_services, lambda i: "drill:1", developer))
    mark = log_length(request_log)
    reference = start_all(reference_services, version_of, developer)
    run_here(reference)
    workers.purge()

    started = time.monotonic()
    worker = standbys.pop(0)
    workers.take_over(worker)
    drilled = start_all(drill_services, version_of, developer)
    kills, kill_after = 0, log_length(request_log) + rng.randint(1, 8)
    # RabbitMQ takes 70-90 s here (a worker after a kill takes deliveries in 2 s bursts), more
    # when the machine is busy; the test's own timeout is 300 s.
    deadline, reconciled = time.monotonic() + 240, 0.0
    while not ended(drilled):
        assert time.monotonic() < deadline, stuck(drilled, worker)
        if kills < KILLS and log_length(request_log) >= kill_after:
            worker.send_signal(signal.SIGKILL)  # mid-rollout: just after a write to the cluster
            worker.wait(timeout=10)
            kills += 1
            worker = standbys.pop(0)
            workers.take_over(worker)
            kill_after = log_length(request_log) + rng.randint(4, 30)
        # Beat runs the reconciler every 30 s; here the test plays beat, every second.
        if time.monotonic() - reconciled > 1:
            services.rollouts_reconcile(stale_after=timedelta(seconds=2))
            reconciled = time.monotonic()
        time.sleep(0.02)
    took = time.monotonic() - started

    assert kills == KILLS
    doubles = 0
    pairs = zip(reference_services, drill_services, reference, drilled, strict=True)
    for index, (ref_service, service, ref, drill) in enumerate(pairs):
        ref.refresh_from_db()
        drill.refresh_from_db()
        expected = RolloutState.ROLLED_BACK if index % 4 == 3 else RolloutState.SUCCEEDED
        assert (ref.state, drill.state) == (expected, expected), (service.name, failures(drill))
        ref_writes = writes_to(request_log, ref_service.name, after=mark)
        drill_writes = writes_to(request_log, service.name, after=mark)
        doubles += sum((drill_writes - ref_writes).values())
        assert drill_writes == ref_writes, service.name
        assert len(finishes(drill.release_id)) == 1, service.name
        transitions = drill.events.filter(kind=RolloutEvent.Kind.TRANSITION)
        transitions = list(transitions.values_list("to_state", flat=True))
        assert len(transitions) == len(set(transitions)), (service.name, transitions)
        assert served(service) == served(ref_service), service.name
    assert doubles == 0
    print(
        f"kill drill: {ROLLOUTS} rollouts, {kills} SIGKILLs, {doubles} writes applied twice, "
        f"{took:.1f} s"
    )


def stuck(rollouts: list[Rollout], worker) -> str:
    lines = ["the drilled rollouts did not end:"]
    for rollout in Rollout.objects.filter(pk__in=[r.pk for r in rollouts], state__in=RUNNABLE):
        step = rollout.steps.filter(index=rollout.current_step).first()
        lines.append(
            f"{rollout.service.name} {rollout.state} step {rollout.current_step} "
            f"{step and (step.kind, step.state, step.message)} due {rollout.next_run_at} "
            f"(now {clock.now()})"
        )
    return "\n".join(lines) + "\n" + worker.log_path.read_text()[-1000:]


def failures(rollout: Rollout) -> list[str]:
    return list(rollout.steps.filter(state=StepState.FAILED).values_list("message", flat=True))


def served(service) -> dict:
    """Image and replicas of each Deployment a service may have."""
    kube = Kube()
    return {
        part: (status.image, status.spec_replicas) if status else None
        for part in ("", "-canary", "-blue", "-green")
        for status in [kube.deployment("drill", service.name + part)]
    }


def hops_received(worker) -> int:
    text = worker.log_path.read_text()
    return sum("rollouts.advance[" in line and "] received" in line for line in text.splitlines())


def test_a_two_hour_pause_runs_out_on_a_moved_clock_in_short_hops(
    workers, developer, payments, settings, move_clock
):
    settings.ROLLOUT_MAX_COUNTDOWN_SECONDS = 2
    params = {"steps": [{"set_weight": 50}, {"pause": {"seconds": 7200}}, {"set_weight": 100}]}
    service = ServiceFactory(
        name="long-pause", owner=payments, strategy="canary", strategy_params=params
    )
    Environment.objects.create(
        service=service, name="dev", kind="development", order=1, namespace="live", replicas=2
    )
    worker = workers(
        env={"RUNWAY_CLOCK_OFFSET_FILE": str(move_clock.file), "ROLLOUT_MAX_COUNTDOWN_SECONDS": "2"}
    )
    first = services.rollout_start(
        actor=developer, release=release_of(service, "live:1", actor=developer)
    )
    assert wait_for(lambda: Rollout.objects.get(pk=first.pk).state == RolloutState.SUCCEEDED)

    rollout = services.rollout_start(
        actor=developer, release=release_of(service, "live:2", actor=developer)
    )
    pause_index = 2  # canary_start, set_weight 50, pause

    def pausing() -> bool:
        step = rollout.steps.get(index=pause_index)
        return step.state == StepState.WAITING

    assert wait_for(pausing, timeout=60)
    rollout.refresh_from_db()
    assert (rollout.next_run_at - clock.now()).total_seconds() > 7000

    # The wait is a chain of hops of at most 2 s, not one task held for two hours.
    hops = hops_received(worker)
    assert wait_for(lambda: hops_received(worker) >= hops + 2, timeout=30)

    move_clock(3600)
    assert wait_for(lambda: hops_received(worker) >= hops + 4, timeout=30)
    rollout.refresh_from_db()
    step = rollout.steps.get(index=pause_index)
    assert (rollout.state, rollout.current_step, step.state) == (
        RolloutState.RUNNING,
        pause_index,
        StepState.WAITING,
    )

    move_clock(3600)
    assert wait_for(lambda: Rollout.objects.get(pk=rollout.pk).state == RolloutState.SUCCEEDED)
    step = rollout.steps.get(index=pause_index)
    assert step.state == StepState.SUCCEEDED
    assert (step.finished_at - step.started_at).total_seconds() >= 7200
    assert Kube().deployment("live", service.name).image == "live:2"

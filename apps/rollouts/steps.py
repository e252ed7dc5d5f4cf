"""What each kind of step does. A handler runs one short piece of work and says what comes
next: done, wait N seconds, pause for a person, or fail.

Handlers are idempotent: a worker may die after a Kubernetes call and before its transaction
commits, and the step then runs again. So every call sets a desired state rather than changing
it relatively, writes only when the cluster is not there yet (a step run twice writes once),
and what a step decides from the cluster before changing it (the version to go back to, the
colour to deploy) is committed first, by a wait of 0 s, before the first write."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from apps.catalog.manifests import render_manifests
from apps.core import clock
from apps.rollouts import analysis, health, plans
from apps.rollouts.kube import Kube, KubeError
from apps.rollouts.models import AnalysisTemplate, Rollout, RolloutStep, StepState

ROLLBACK_MIN_SECONDS = 60


@dataclass(frozen=True)
class Outcome:
    kind: str  # done | wait | pause | fail
    message: str = ""
    delay: float = 0.0


def done(message: str = "") -> Outcome:
    return Outcome("done", message)


def poll_seconds() -> float:
    """How long a step waits before asking the cluster again (ROLLOUT_POLL_MILLISECONDS)."""
    return settings.ROLLOUT_POLL_MILLISECONDS / 1000


def wait(message: str, delay: float | None = None) -> Outcome:
    return Outcome("wait", message, poll_seconds() if delay is None else delay)


def pause(message: str) -> Outcome:
    return Outcome("pause", message)


def fail(message: str) -> Outcome:
    return Outcome("fail", message)


class Context:
    """A rollout with what its steps need: names, manifests and the cluster."""

    def __init__(self, rollout: Rollout, kube: Kube):
        self.rollout, self.kube = rollout, kube
        self.service = rollout.service
        self.ns = rollout.namespace
        self.name = self.service.name
        self.deadline = (self.service.strategy_params or {}).get(
            "progress_deadline_seconds"
        ) or settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS
        # When this run last changed the cluster: a wait gives the cluster its deadline from
        # then, not from when the step started (a step resumed by a new worker may write late).
        self.changed_at: datetime | None = None

    def _changed(self, wrote: bool = True) -> None:
        if wrote:
            self.changed_at = clock.now()

    def apply(self, manifest: dict) -> None:
        self._changed(self.kube.apply_deployment(self.ns, manifest))

    def apply_service(self, manifest: dict) -> None:
        self._changed(self.kube.apply_service(self.ns, manifest))

    def scale_to(self, name: str, replicas: int) -> None:
        current = self.kube.deployment(self.ns, name)
        if current is None or current.spec_replicas != replicas:
            self.kube.scale(self.ns, name, replicas)
            self._changed()

    def remove(self, name: str) -> None:
        if self.kube.deployment(self.ns, name) is not None:
            self.kube.delete_deployment(self.ns, name)
            self._changed()

    def route_to(self, selector: dict) -> None:
        """Point the Service at the pods `selector` picks."""
        if self.kube.service_selector(self.ns, self.name) != selector:
            self.kube.set_service_selector(self.ns, self.name, selector)
            self._changed()

    def restore_template(self, name: str, template: dict) -> None:
        current = self.kube.deployment(self.ns, name)
        if current is None or current.template != template:
            self.kube.set_template(self.ns, name, template)
            self._changed()

    def deployment_manifest(self, name: str, image: str, replicas: int, labels: dict) -> dict:
        deployment, _service = render_manifests(self.service, replicas=replicas)[:2]
        deployment["metadata"]["name"] = name
        deployment["spec"]["replicas"] = replicas
        deployment["spec"]["progressDeadlineSeconds"] = settings.ROLLOUT_PROGRESS_DEADLINE_SECONDS
        deployment["spec"]["selector"]["matchLabels"].update(labels)
        deployment["spec"]["template"]["metadata"]["labels"].update(labels)
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        container["image"] = image
        return deployment

    def service_manifest(self, selector_extra: dict | None = None) -> dict:
        service = render_manifests(self.service)[1]
        service["spec"]["selector"].update(selector_extra or {})
        return service

    def skip_remaining(self, step: RolloutStep, kinds: set[str], why: str) -> None:
        """A first deployment has nothing to compare with: like Argo Rollouts, it goes straight
        to full promotion, skipping weights, pauses and analyses."""
        self.rollout.steps.filter(index__gt=step.index, kind__in=kinds).update(
            state=StepState.SKIPPED, message=why, finished_at=clock.now()
        )


def note_running(ctx: Context) -> bool:
    """Note what the cluster runs before the rollout's first write: the pod template to go
    back to (as `kubectl rollout undo` keeps it) and, for blue/green, the colour that serves.
    True when noted just now: the first step then returns RECORDED, so that the note is
    committed before anything is written; read after a write, the "previous" version would be
    the new one. A train notes its members' side by side as their start commits
    (services.rollouts_note_running), and their first steps write at once."""
    state = ctx.rollout.plan_state
    # Blue/green rollouts noted before "previous_recorded" was kept for them have their colours.
    if state.get("previous_recorded") or "preview" in state:
        return False
    name = ctx.name
    if ctx.rollout.strategy == "blue-green":
        try:
            active = ctx.kube.service_selector(ctx.ns, ctx.name).get(COLOUR)
        except KubeError as exc:
            if exc.status != 404:
                raise
            active = None  # no Service yet: a first deployment
        state["active"] = active
        state["preview"] = "green" if active == "blue" else "blue"
        name = _colour_name(ctx, active) if active else ""
    current = ctx.kube.deployment(ctx.ns, name) if name else None
    if current is not None:
        ctx.rollout.previous_template = current.template
        ctx.rollout.previous_image = current.image
    state["previous_recorded"] = True
    return True


RECORDED = wait("Noted the running version, to go back to if need be", 0)


def _elapsed(since: datetime | None) -> float:
    return (clock.now() - since).total_seconds() if since else 0.0


def _last_progress(*marks: datetime | None) -> datetime | None:
    """The latest of the step's start, this run's last write and the cluster's last progress.
    The cluster's mark covers a write whose worker died before it could record it; a cluster
    clock running ahead is held to now, so it can postpone Runway's deadline, never advance it
    (the cluster's own progressDeadlineSeconds still applies)."""
    now = clock.now()
    known = [min(mark, now) for mark in marks if mark is not None]
    return max(known, default=None)


def watch(
    ctx: Context, name: str, what: str, *, since: datetime | None, restoring: bool = False
) -> Outcome:
    """Wait for a Deployment to be rolled out, as `kubectl rollout status` does, and fail early
    on what its pods say (crash loops, image pull errors) or when Runway's own deadline, counted
    from `since`, has passed."""
    status = ctx.kube.deployment(ctx.ns, name)
    if status is None:
        return fail(f"{name} disappeared from the cluster")
    # A rollback puts a known-good version back: it gets at least ROLLBACK_MIN_SECONDS, and
    # a ProgressDeadlineExceeded left by the bad version it replaces is not about it.
    deadline = max(ctx.deadline, ROLLBACK_MIN_SECONDS) if restoring else ctx.deadline
    late = _elapsed(_last_progress(since, ctx.changed_at, status.progressed_at)) > deadline
    if status.observed_generation < status.generation:
        # Until the controller has seen the new spec, the status (a ProgressDeadlineExceeded
        # of the version being replaced) is not about it.
        if late:
            return fail(f"{name}: the cluster did not take the change in within {deadline} s")
        return wait(f"{what}: waiting for the cluster to take the change in", poll_seconds() / 5)
    if status.progress_deadline_exceeded and not restoring:
        return fail(f"{name}: {status.conditions['Progressing'][2] or 'ProgressDeadlineExceeded'}")
    if status.rolled_out:
        return done(f"{what}: {status.available}/{status.spec_replicas} available")
    pods = [pod for pod in ctx.kube.pods(ctx.ns, status.selector) if pod.image == status.image]
    reason = health.failure(pods, restart_limit=settings.ROLLOUT_RESTART_LIMIT)
    if reason:
        return fail(f"{name}: {reason}")
    progress = (
        f"{status.updated}/{status.spec_replicas} updated, {status.available} available; "
        f"{health.summary(pods)}"
    )
    if late:
        return fail(f"{name} made no progress within {deadline} s: {progress}")
    return wait(f"{what}: {progress}")


# --- Rolling ------------------------------------------------------------------------------


def apply(ctx: Context, step: RolloutStep) -> Outcome:
    if note_running(ctx):
        return RECORDED
    ctx.apply_service(ctx.service_manifest())
    manifest = ctx.deployment_manifest(ctx.name, ctx.rollout.image, ctx.rollout.replicas, {})
    ctx.apply(manifest)
    return done(f"Applied {ctx.rollout.image}")


def wait_rollout(ctx: Context, step: RolloutStep) -> Outcome:
    return watch(ctx, ctx.name, "Rolling out", since=step.started_at)


# --- Canary -------------------------------------------------------------------------------

STABLE, CANARY = {"runway.dev/track": "stable"}, {"runway.dev/track": "canary"}


def canary_name(ctx: Context) -> str:
    return f"{ctx.name}-canary"


def canary_start(ctx: Context, step: RolloutStep) -> Outcome:
    if note_running(ctx):
        return RECORDED
    ctx.apply_service(ctx.service_manifest())
    if ctx.rollout.previous_template is None:
        # Nothing runs yet: the first version goes straight to the stable track.
        ctx.rollout.plan_state["first"] = True
        stable = ctx.deployment_manifest(ctx.name, ctx.rollout.image, ctx.rollout.replicas, STABLE)
        ctx.apply(stable)
        ctx.skip_remaining(step, {"set_weight", "pause", "analysis"}, "First deployment")
        return done("First deployment: no stable version to compare with")
    canary = ctx.deployment_manifest(canary_name(ctx), ctx.rollout.image, 0, CANARY)
    ctx.apply(canary)
    return done(f"Canary {canary_name(ctx)} created with {ctx.rollout.image}")


def set_weight(ctx: Context, step: RolloutStep) -> Outcome:
    """The canary surges beside a full stable: the stable version keeps every replica until
    the canary is ready at 100%, so a weight never sends more traffic to the canary than it
    says, and a failing canary never leaves the service short of pods."""
    weight = step.params["weight"]
    if ctx.rollout.plan_state.get("first"):
        ctx.rollout.weight = weight
        return watch(ctx, ctx.name, f"Weight {weight}%", since=step.started_at)
    canary, stable = plans.canary_split(ctx.rollout.replicas, weight)
    ctx.scale_to(canary_name(ctx), canary)
    ctx.rollout.weight = weight
    share = plans.canary_share(canary, stable)
    outcome = watch(
        ctx,
        canary_name(ctx),
        f"Weight {weight}% ({canary} canary, {stable} stable: {share}% of pods)",
        since=step.started_at,
    )
    if outcome.kind == "done" and stable < ctx.rollout.replicas:
        ctx.scale_to(ctx.name, stable)  # all traffic to a canary that is ready
    return outcome


def canary_promote(ctx: Context, step: RolloutStep) -> Outcome:
    if not ctx.rollout.plan_state.get("first"):
        stable = ctx.deployment_manifest(ctx.name, ctx.rollout.image, ctx.rollout.replicas, STABLE)
        ctx.apply(stable)
        outcome = watch(ctx, ctx.name, "Promoting the canary to stable", since=step.started_at)
        if outcome.kind != "done":
            return outcome
        ctx.remove(canary_name(ctx))
    ctx.rollout.weight = 0
    return done(f"Promoted: stable runs {ctx.rollout.image}")


# --- Blue/green ---------------------------------------------------------------------------

COLOUR = "runway.dev/colour"


def _colour_name(ctx: Context, colour: str) -> str:
    return f"{ctx.name}-{colour}"


def bg_preview(ctx: Context, step: RolloutStep) -> Outcome:
    if note_running(ctx):
        return RECORDED
    state = ctx.rollout.plan_state
    preview = _colour_name(ctx, state["preview"])
    manifest = ctx.deployment_manifest(
        preview, ctx.rollout.image, ctx.rollout.replicas, {COLOUR: state["preview"]}
    )
    ctx.apply(manifest)
    if not state["active"]:
        ctx.apply_service(ctx.service_manifest({COLOUR: state["preview"]}))
        ctx.skip_remaining(step, {"pause", "analysis"}, "First deployment")
    return watch(ctx, preview, f"Preview {preview}", since=step.started_at)


def bg_switch(ctx: Context, step: RolloutStep) -> Outcome:
    state = ctx.rollout.plan_state
    ctx.route_to(ctx.service_manifest({COLOUR: state["preview"]})["spec"]["selector"])
    state["switched"] = True
    return done(f"Traffic switched to {state['preview']}")


def bg_scale_down(ctx: Context, step: RolloutStep) -> Outcome:
    state = ctx.rollout.plan_state
    if not state.get("active"):
        return done("First deployment: nothing to scale down")
    remaining = step.params.get("delay", 30) - _elapsed(step.started_at)
    if remaining > 0:
        return wait(f"Old version {state['active']} kept for {remaining:.0f} s more", remaining)
    ctx.scale_to(_colour_name(ctx, state["active"]), 0)
    return done(f"Old version {state['active']} scaled down")


# --- Shared -------------------------------------------------------------------------------


def pause_step(ctx: Context, step: RolloutStep) -> Outcome:
    seconds = step.params.get("seconds")
    if seconds is None:
        return pause("Paused until someone promotes")
    remaining = seconds - _elapsed(step.started_at)
    if remaining > 0:
        return wait(f"Paused for {seconds} s, {remaining:.0f} s to go", remaining)
    return done(f"Paused {seconds} s")


def _under_test(ctx: Context) -> str:
    """The Deployment that runs the new version right now."""
    state = ctx.rollout.plan_state
    if ctx.rollout.strategy == "canary" and not state.get("first"):
        return canary_name(ctx)
    if ctx.rollout.strategy == "blue-green" and state.get("preview"):
        return _colour_name(ctx, state["preview"])
    return ctx.name


def analysis_step(ctx: Context, step: RolloutStep) -> Outcome:
    template = AnalysisTemplate.objects.filter(name=step.params["template"]).first()
    if template is None:
        return fail(f"No analysis template called {step.params['template']!r}")
    if step.results:
        since_last = clock.now() - datetime.fromisoformat(step.results[-1]["at"])
        remaining = template.interval_seconds - since_last.total_seconds()
        if remaining > 0:
            return wait(f"Next measurement of {template.name} in {remaining:.0f} s", remaining)
    measurement = analysis.measure(
        template, service=ctx.name, namespace=ctx.ns, deployment=_under_test(ctx)
    )
    step.results = [*step.results, {**measurement.as_dict(), "at": clock.now().isoformat()}]
    verdict = analysis.verdict(template, step.results)
    summary = (
        f"{template.name}: {len(step.results)}/{template.count} measured, last {measurement.value}"
    )
    if verdict == analysis.SUCCESSFUL:
        return done(summary)
    if verdict == analysis.FAILED:
        return fail(f"{summary}; more than {template.failure_limit} failed")
    if verdict == analysis.INCONCLUSIVE:
        return pause(f"{summary}; inconclusive: promote or abort")
    return wait(summary, template.interval_seconds)


HANDLERS = {
    "apply": apply,
    "wait_rollout": wait_rollout,
    "canary_start": canary_start,
    "set_weight": set_weight,
    "canary_promote": canary_promote,
    "bg_preview": bg_preview,
    "bg_switch": bg_switch,
    "bg_scale_down": bg_scale_down,
    "pause": pause_step,
    "analysis": analysis_step,
}


# --- Rollback -----------------------------------------------------------------------------


def roll_back(ctx: Context) -> Outcome:
    """Put the previous version back, the way `kubectl rollout undo` does: the changes once,
    then a watch until the previous version serves again."""
    rollout, state = ctx.rollout, ctx.rollout.plan_state
    if not state.get("rollback_applied"):
        finished = _restore_previous(ctx)
        state["rollback_applied"] = True
        if finished is not None:
            return finished
    since = rollout.failure_detected_at or rollout.started_at
    if rollout.strategy == "blue-green":
        active = state["active"]
        return watch(
            ctx, _colour_name(ctx, active), f"Traffic back on {active}", since=since, restoring=True
        )
    return watch(
        ctx, ctx.name, f"Rolling back to {rollout.previous_image}", since=since, restoring=True
    )


def _restore_previous(ctx: Context) -> Outcome | None:
    """The rollback's changes; an outcome when there is nothing to wait for afterwards."""
    rollout, state = ctx.rollout, ctx.rollout.plan_state
    rollout.weight = 0
    if rollout.strategy == "blue-green":
        if state.get("active"):
            ctx.scale_to(_colour_name(ctx, state["active"]), rollout.replicas)
            ctx.route_to(ctx.service_manifest({COLOUR: state["active"]})["spec"]["selector"])
            if state.get("preview"):
                ctx.scale_to(_colour_name(ctx, state["preview"]), 0)
            return None
        if state.get("preview"):
            ctx.scale_to(_colour_name(ctx, state["preview"]), 0)
        return done("First deployment: scaled to zero, nothing to go back to")
    if rollout.strategy == "canary" and not state.get("first"):
        ctx.remove(canary_name(ctx))
    if rollout.previous_template is None:
        ctx.scale_to(ctx.name, 0)
        return done("First deployment: scaled to zero, nothing to go back to")
    ctx.restore_template(ctx.name, rollout.previous_template)
    ctx.scale_to(ctx.name, rollout.replicas)
    return None

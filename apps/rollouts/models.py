from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from apps.catalog.models import MAX_SOAK_SECONDS, Cluster, Environment, Service, Strategy
from apps.releases.models import Release


class RolloutState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    ROLLING_BACK = "rolling_back", "Rolling back"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ABORTED = "aborted", "Aborted"
    ROLLED_BACK = "rolled_back", "Rolled back"


ACTIVE_STATES = (
    RolloutState.PENDING,
    RolloutState.RUNNING,
    RolloutState.PAUSED,
    RolloutState.ROLLING_BACK,
)
FINISHED_STATES = (
    RolloutState.SUCCEEDED,
    RolloutState.FAILED,
    RolloutState.ABORTED,
    RolloutState.ROLLED_BACK,
)


class Rollout(models.Model):
    """One release executed against one environment's cluster, step by step."""

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="rollouts")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="rollouts")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="rollouts")
    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, null=True, blank=True, related_name="rollouts"
    )
    namespace = models.CharField(max_length=63)
    strategy = models.CharField(max_length=20, choices=Strategy.choices)
    image = models.CharField(max_length=300)
    state = models.CharField(
        max_length=20, choices=RolloutState.choices, default=RolloutState.PENDING
    )
    current_step = models.PositiveSmallIntegerField(default=0)
    weight = models.PositiveSmallIntegerField(default=0, help_text="Canary traffic weight, %.")
    replicas = models.PositiveSmallIntegerField(default=1)
    previous_template = models.JSONField(
        null=True, blank=True, help_text="The pod template before this rollout, for rollback."
    )
    previous_image = models.CharField(max_length=300, blank=True)
    plan_state = models.JSONField(
        default=dict, blank=True, help_text="Strategy bookkeeping, e.g. blue/green colours."
    )
    failure_reason = models.TextField(blank=True)
    is_rollback = models.BooleanField(default=False, help_text="Rolls a finished rollout back.")
    rolls_back = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_detected_at = models.DateTimeField(null=True, blank=True)
    # The executor's bookkeeping: when the next step is due, and the last time a worker touched
    # it. The reconciler resumes rollouts whose worker stopped keeping time, and sends an
    # overdue one again no sooner than `resend_after`.
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_worked_at = models.DateTimeField(null=True, blank=True)
    resend_after = models.DateTimeField(null=True, blank=True)
    manual_interventions = models.PositiveIntegerField(default=0)
    # An environment with rings (see Ring): the ring's position, None without rings. A ring
    # that succeeded keeps, until the next ring starts, when its soak is over.
    ring = models.PositiveSmallIntegerField(null=True, blank=True)
    next_ring_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next ring starts: this ring's soak is over."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one active rollout per service and environment, whatever the race.
            models.UniqueConstraint(
                fields=["service", "environment"],
                condition=models.Q(state__in=ACTIVE_STATES),
                name="rollout_one_active_per_environment",
            ),
            # A release rolls out to each ring once, whatever the race.
            models.UniqueConstraint(
                fields=["release", "ring"],
                condition=models.Q(is_rollback=False, ring__isnull=False),
                name="rollout_one_per_ring",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_run_at"], name="rollout_due_idx"),
            models.Index(fields=["-created_at"], name="rollout_recent_idx"),
            models.Index(
                fields=["next_ring_at"],
                condition=models.Q(next_ring_at__isnull=False),
                name="rollout_ring_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"rollout #{self.pk} {self.service.name}/{self.environment.name}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def canary_pods(self) -> dict | None:
        """At a canary weight: the planned canary and stable pods and the canary's share of
        all pods, which with few replicas is not the weight (1 canary beside 1 stable is 50%)."""
        from apps.rollouts import plans

        if self.strategy != Strategy.CANARY or not self.weight or self.plan_state.get("first"):
            return None
        canary, stable = plans.canary_split(self.replicas, self.weight)
        return {"canary": canary, "stable": stable, "share": plans.canary_share(canary, stable)}

    @property
    def progress(self) -> int:
        """Per cent of steps done; uses prefetched steps where the caller loaded them."""
        steps = list(self.steps.all()) if self.pk else []
        done = sum(step.state in (StepState.SUCCEEDED, StepState.SKIPPED) for step in steps)
        return round(100 * done / len(steps)) if steps else 0


MAX_RINGS = 10


class Ring(models.Model):
    """One of the clusters an environment rolls out to in order: ring 0 first, ring N+1 once
    ring N has succeeded and run `soak_seconds` since. An environment without rings rolls out
    to its own cluster alone."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="rings")
    position = models.PositiveSmallIntegerField()
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="rings")
    soak_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_SOAK_SECONDS)],
        help_text="How long this ring runs the new version healthy before the next ring starts.",
    )

    class Meta:
        ordering = ["environment", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "position"], name="ring_position_unique"
            ),
            models.UniqueConstraint(fields=["environment", "cluster"], name="ring_cluster_unique"),
        ]

    def __str__(self) -> str:
        return f"ring {self.position} ({self.cluster.name})"


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class RolloutStep(models.Model):
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=30)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=StepState.choices, default=StepState.PENDING)
    message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list, blank=True, help_text="Analysis measurements.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rollout", "index"]
        constraints = [
            models.UniqueConstraint(fields=["rollout", "index"], name="rollout_step_unique")
        ]

    def __str__(self) -> str:
        return f"{self.index}: {self.kind}"

    @property
    def ends_at(self):
        """When a timed pause that has begun is over."""
        seconds = self.params.get("seconds") if self.kind == "pause" else None
        if seconds is None or self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=seconds)


class RolloutEvent(models.Model):
    """The rollout's own history. A `transition` row is written by transitions.py, and only
    there, for every change of state; `step` rows tell what the steps did."""

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    class Kind(models.TextChoices):
        TRANSITION = "transition", "State change"
        STEP = "step", "Step"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.STEP)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    step_index = models.PositiveSmallIntegerField(null=True, blank=True)
    from_state = models.CharField(max_length=20, choices=RolloutState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=RolloutState.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    message = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.message[:60]


class AnalysisTemplate(models.Model):
    """A verification gate, as Argo Rollouts defines one: a measurement taken `count` times,
    `interval_seconds` apart; more than `failure_limit` failures fail the rollout (and roll it
    back); more than `inconclusive_limit` inconclusive measurements pause it for a person."""

    class Kind(models.TextChoices):
        HTTP = "http", "HTTP check"
        PROMETHEUS = "prometheus", "Prometheus query"

    name = models.CharField(max_length=63, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    url = models.CharField(
        max_length=500,
        help_text="HTTP check URL, or the Prometheus HTTP API base URL. {service}, {namespace} "
        "and {deployment} (the version under test) are filled in.",
    )
    expected_status = models.PositiveSmallIntegerField(default=200)
    timeout_seconds = models.PositiveSmallIntegerField(default=5)
    query = models.TextField(blank=True, help_text="PromQL, with the same placeholders.")
    success_condition = models.CharField(
        max_length=100, blank=True, help_text="e.g. result >= 0.95 (Prometheus only)"
    )
    interval_seconds = models.PositiveIntegerField(default=10)
    count = models.PositiveSmallIntegerField(default=3)
    failure_limit = models.PositiveSmallIntegerField(default=0)
    inconclusive_limit = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

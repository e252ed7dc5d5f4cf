"""What the reports are made of.

Deliveries come in through webhooks (WebhookSource, WebhookDelivery). What they say becomes
facts: DeploymentFact with its CommitFacts, IncidentFact, PipelineRun. DORA reads only the facts
and the daily roll-up. Runway's own releases become DeploymentFacts through the same service
function as the vendors' events, one finishing transition at a time (RecordedReleaseTransition).
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models


class SourceKind(models.TextChoices):
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"
    PAGERDUTY = "pagerduty", "PagerDuty"
    GENERIC = "generic", "Generic JSON"


class FactSource(models.TextChoices):
    RUNWAY = "runway", "Runway"
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"
    GENERIC = "generic", "Generic JSON"


class DeploymentResult(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"


class IncidentSource(models.TextChoices):
    PAGERDUTY = "pagerduty", "PagerDuty"
    GENERIC = "generic", "Generic JSON"


class IncidentLink(models.TextChoices):
    REPORTED = "reported", "Named by the incident"
    INFERRED = "inferred", "Latest production deployment before it"


class PipelineStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class AliasKind(models.TextChoices):
    REPOSITORY = "repository", "Repository"
    INCIDENT_SERVICE = "incident_service", "Incident tool's service"


# A slug with at least one letter, so `?source=12` can only mean the source with id 12.
source_slug_validator = RegexValidator(
    r"^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Use lowercase letters, digits and '-' (at least one letter).",
)


class WebhookSource(models.Model):
    """A sender of webhooks (a GitHub organisation, a GitLab instance, a PagerDuty account, a CI
    system). Vendors cannot send Runway's API tokens, so each source has its own secret; the
    source is named in the URL: `/api/v1/events/deployments?source=<id or slug>`.

    Secrets are stored encrypted (apps.insights.crypto) and shown once. During a rotation the
    previous secret stays valid until `previous_secret_expires_at`."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.CharField(max_length=63, unique=True, validators=[source_slug_validator])
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    secret_encrypted = models.TextField(editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(previous_secret_encrypted="", previous_secret_expires_at__isnull=True)
                    | (
                        ~models.Q(previous_secret_encrypted="")
                        & models.Q(previous_secret_expires_at__isnull=False)
                    )
                ),
                name="webhook_source_previous_secret_expires",
            )
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    RECORDED = "recorded", "Recorded"
    UNMATCHED = "unmatched", "Unmatched: waiting for a service"
    IGNORED = "ignored", "Ignored"


class WebhookDelivery(models.Model):
    """One accepted delivery, stored once per (source, delivery id): a vendor's retry of the same
    delivery is recognised and not recorded twice. Recorded and unmatched deliveries keep their
    payload (an unmatched one is recorded from it once an admin names its service); ignored ones
    keep only what they were about."""

    source = models.ForeignKey(WebhookSource, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=200)
    event = models.CharField(max_length=100, help_text="The vendor's event name.")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices)
    subject = models.CharField(
        max_length=200, blank=True, help_text="The external id of what the delivery is about."
    )
    occurred_at = models.DateTimeField(null=True, blank=True)
    match_kind = models.CharField(max_length=20, choices=AliasKind.choices, blank=True)
    match_key = models.CharField(
        max_length=500, blank=True, help_text="The normalised repository or service name."
    )
    payload = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    deployment = models.ForeignKey(
        "DeploymentFact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    incident = models.ForeignKey(
        "IncidentFact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pipeline_run = models.ForeignKey(
        "PipelineRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    mapped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    mapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "delivery_id"], name="webhook_delivery_once_per_source"
            )
        ]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="delivery_status_idx"),
            models.Index(fields=["source", "subject"], name="delivery_subject_idx"),
            models.Index(fields=["match_kind", "match_key"], name="delivery_match_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source.name} {self.event} {self.delivery_id}"


class ServiceAlias(models.Model):
    """A repository or an incident tool's service name an admin mapped to a catalog service,
    for what the catalog's own repository_url and names do not match."""

    kind = models.CharField(max_length=20, choices=AliasKind.choices)
    key = models.CharField(max_length=500)
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, related_name="insights_aliases"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "key"]
        verbose_name_plural = "service aliases"
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="service_alias_once")]

    def __str__(self) -> str:
        return f"{self.key} → {self.service_id}"


class DeploymentFact(models.Model):
    """One finished deployment of a service to an environment: the one table DORA reads.

    `rolled_back_at` is when a rollback of this deployment finished (a deployment reported as
    rolled back, or one rolled back later); `recovery_seconds` is then rolled_back_at - started_at.
    `is_failure`: failed, rolled back, or named as (or inferred to be) an incident's cause."""

    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, related_name="deployment_facts"
    )
    environment = models.CharField(max_length=63)
    is_production = models.BooleanField()
    version = models.CharField(max_length=300)
    source = models.CharField(max_length=20, choices=FactSource.choices)
    external_id = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    result = models.CharField(max_length=20, choices=DeploymentResult.choices)
    commit_count = models.PositiveIntegerField(default=0)
    is_failure = models.BooleanField(default=False)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    recovery_seconds = models.PositiveIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-finished_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="deployment_fact_once_per_source"
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__gte=models.F("started_at")),
                name="deployment_fact_finishes_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(recovery_seconds__isnull=True)
                | models.Q(rolled_back_at__isnull=False),
                name="deployment_fact_recovery_needs_rollback",
            ),
        ]
        indexes = [
            models.Index(fields=["is_production", "finished_at"], name="fact_production_idx"),
            models.Index(
                fields=["service", "is_production", "finished_at"], name="fact_service_idx"
            ),
            models.Index(fields=["is_production", "rolled_back_at"], name="fact_rollback_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.version} → {self.environment} ({self.result})"


class RecordedReleaseTransition(models.Model):
    """A finishing transition of a Runway release (into succeeded, failed or rolled back) that
    the reports have taken in. It is written in the same transaction as the deployment fact the
    transition made or changed, so taking the same transition in again does nothing, and the
    repair job finds the transitions still without one (services/runway.py)."""

    transition = models.OneToOneField(
        "releases.ReleaseTransition", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"transition {self.transition_id}"


class CommitFact(models.Model):
    """A commit a deployment shipped. `lead_time_seconds` = the deployment's finish - the commit's
    time, in real seconds; empty when the commit's time is unknown or not before the finish."""

    deployment = models.ForeignKey(DeploymentFact, on_delete=models.CASCADE, related_name="commits")
    sha = models.CharField(max_length=64)
    committed_at = models.DateTimeField(null=True, blank=True)
    lead_time_seconds = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["committed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "sha"], name="commit_fact_once")
        ]
        indexes = [models.Index(fields=["sha"], name="commit_fact_sha_idx")]

    def __str__(self) -> str:
        return self.sha[:12]


class LeadTime(models.Model):
    """A commit whose lead time counts (selectors.counted_commits), kept beside its deployment's
    finish and service: medians over long windows then read one narrow, indexed table instead of
    deciding again, commit by commit, which deployment first shipped each one. Rewritten with
    the daily roll-up (services/rollups.py) for the days it covers, never edited."""

    commit = models.OneToOneField(
        CommitFact, on_delete=models.CASCADE, primary_key=True, related_name="counted"
    )
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="+")
    deployed_at = models.DateTimeField(help_text="When the deployment that counts it finished.")
    seconds = models.PositiveBigIntegerField()

    class Meta:
        # Both end in `seconds`, so a median reads the index alone.
        indexes = [
            models.Index(fields=["deployed_at", "seconds"], name="lead_time_window_idx"),
            models.Index(
                fields=["service", "deployed_at", "seconds"], name="lead_time_service_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.commit_id}: {self.seconds} s"


class PushedCommit(models.Model):
    """A commit seen in a push event, by the push's head: a deployment of sha X ships the commits
    of the push whose head was X (the Four Keys rule), with their timestamps for lead time."""

    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, related_name="pushed_commits"
    )
    head_sha = models.CharField(max_length=64)
    sha = models.CharField(max_length=64)
    committed_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "head_sha", "sha"], name="pushed_commit_once"
            )
        ]
        indexes = [models.Index(fields=["service", "sha"], name="pushed_commit_sha_idx")]

    def __str__(self) -> str:
        return self.sha[:12]


class IncidentFact(models.Model):
    """An incident in production, with the deployment that caused it: the one it names, or else
    the latest production deployment of the service that started before it opened."""

    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, related_name="incident_facts"
    )
    source = models.CharField(max_length=20, choices=IncidentSource.choices)
    external_id = models.CharField(max_length=200)
    title = models.CharField(max_length=300, blank=True)
    opened_at = models.DateTimeField()
    # False when Runway first heard of the incident as resolved, with no start from the
    # vendor: opened_at is then the resolve time, and it counts for no recovery time.
    start_known = models.BooleanField(default=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    recovery_seconds = models.PositiveIntegerField(null=True, blank=True)
    deployment = models.ForeignKey(
        DeploymentFact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
    )
    link = models.CharField(max_length=20, choices=IncidentLink.choices, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="incident_fact_once_per_source"
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True)
                | models.Q(resolved_at__gte=models.F("opened_at")),
                name="incident_fact_resolves_after_opening",
            ),
        ]
        indexes = [
            models.Index(fields=["service", "resolved_at"], name="incident_resolved_idx"),
            models.Index(fields=["resolved_at"], name="incident_resolved_at_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.external_id


class PipelineRun(models.Model):
    """A finished CI pipeline run (GitHub workflow_run, GitLab Pipeline Hook), for the CI KPIs."""

    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, related_name="pipeline_runs"
    )
    source = models.CharField(max_length=20, choices=FactSource.choices)
    external_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    ref = models.CharField(max_length=255, blank=True)
    sha = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=PipelineStatus.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_seconds = models.PositiveIntegerField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-finished_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="pipeline_run_once_per_source"
            )
        ]
        indexes = [models.Index(fields=["service", "finished_at"], name="pipeline_service_idx")]

    def __str__(self) -> str:
        return f"{self.name or self.external_id} ({self.status})"


class DailyDeploymentRollup(models.Model):
    """Per service, per day (in TIME_ZONE), per production or not: counts that add up over any
    window, for frequency and failure counts over long windows. Medians are not composable, so
    lead time keeps only a sum and a count here; median lead time comes from CommitFact."""

    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, related_name="deployment_rollups"
    )
    day = models.DateField()
    is_production = models.BooleanField()
    deployments = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    rollbacks = models.PositiveIntegerField(default=0)
    lead_time_seconds_sum = models.PositiveBigIntegerField(default=0)
    lead_time_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "service"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "day", "is_production"], name="deployment_rollup_once"
            )
        ]
        # Covering: the reports' sums over a window (by day, week, service or team) read this
        # index alone, not the rows it points to.
        indexes = [
            models.Index(
                fields=["is_production", "day"],
                include=["service", "deployments", "failures"],
                name="rollup_window_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.day}: {self.deployments}"


# --- Scorecards -------------------------------------------------------------------------------


class Level(models.IntegerChoices):
    """Scorecard levels, in order: a level is reached when its rules and all lower ones pass."""

    NONE = 0, "No level"
    BRONZE = 1, "Bronze"
    SILVER = 2, "Silver"
    GOLD = 3, "Gold"


class ScorecardRule(models.Model):
    """An admin's settings for one rule of the scorecard. What a rule checks, and how to pass
    it, is code (apps.insights.scorecards.rules); its level and whether it counts are data."""

    key = models.CharField(max_length=50, unique=True)
    level = models.PositiveSmallIntegerField(
        choices=[c for c in Level.choices if c[0] != Level.NONE]
    )
    is_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["level", "key"]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_level_display()})"


class ServiceScore(models.Model):
    """The latest evaluation of a service's scorecard: `results` is {rule key: passed} for
    every rule, enabled or not (other reports read single rules from it); `level`, `passed` and
    `total` count the enabled rules only: `level` is the highest level whose enabled rules, and
    those of all lower levels, pass."""

    service = models.OneToOneField(
        "catalog.Service", on_delete=models.CASCADE, related_name="scorecard"
    )
    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.NONE)
    results = models.JSONField(default=dict)
    passed = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveSmallIntegerField(default=0)
    evaluated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["level"], name="service_score_level_idx")]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.get_level_display()}"


class ScorecardSnapshot(models.Model):
    """A service's scorecard as it stood in one week (the Monday), kept for trends and "what
    changed since last month". The owner team is the team at the time."""

    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, related_name="scorecard_snapshots"
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    week = models.DateField(help_text="The Monday of the week.")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    results = models.JSONField(default=dict)
    passed = models.PositiveSmallIntegerField(default=0)
    total = models.PositiveSmallIntegerField(default=0)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["-week", "service"]
        constraints = [
            models.UniqueConstraint(fields=["service", "week"], name="scorecard_snapshot_once")
        ]
        # The level trend, the changes since a month and the platform KPIs' weekly shares read
        # these indexes without visiting the snapshots (whose results make them wide): the
        # first covers levels, services and teams; each partial one holds the snapshots that
        # passed one of the rules the KPIs count (kpis.SCORECARD_SHARES).
        indexes = [
            models.Index(
                fields=["week", "level"], include=["service", "team"], name="snapshot_week_idx"
            ),
            models.Index(fields=["team", "week"], name="snapshot_team_week_idx"),
            *(
                models.Index(
                    fields=["week"],
                    condition=models.Q(**{f"results__{key}": True}),
                    name=f"snapshot_{short}_idx",
                )
                for key, short in (
                    ("latest_template", "template"),
                    ("progressive_delivery", "progressive"),
                    ("verification_gate", "verification"),
                )
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.week}: {self.get_level_display()}"

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from apps.accounts.models import Team
from apps.catalog.models import Environment, EnvironmentKind, Service, Tier

if TYPE_CHECKING:
    from apps.releases.gates import Gate
    from apps.releases.policies import ApprovalStatus
    from apps.releases.selectors import Conflict


class ChangeType(models.TextChoices):
    STANDARD = "standard", "Standard (pre-approved)"
    NORMAL = "normal", "Normal"
    EMERGENCY = "emergency", "Emergency"


class ReleaseState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATES = (
    ReleaseState.DRAFT,
    ReleaseState.PENDING_APPROVAL,
    ReleaseState.APPROVED,
    ReleaseState.SCHEDULED,
    ReleaseState.IN_PROGRESS,
)
FINISHED_STATES = (
    ReleaseState.SUCCEEDED,
    ReleaseState.FAILED,
    ReleaseState.ROLLED_BACK,
    ReleaseState.REJECTED,
    ReleaseState.CANCELLED,
)


class StandardChangeTemplate(models.Model):
    """A pre-approved kind of change (ITIL "standard change"): releases made from it skip
    approval, within its scope."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, null=True, blank=True, related_name="standard_changes"
    )
    environment_kind = models.CharField(max_length=20, choices=EnvironmentKind.choices, blank=True)
    max_tier = models.PositiveSmallIntegerField(
        choices=Tier.choices,
        null=True,
        blank=True,
        help_text="Only for this tier or less critical.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Release(models.Model):
    """A change request: one version of one service to one environment."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="releases")
    environment = models.ForeignKey(Environment, on_delete=models.PROTECT, related_name="releases")
    version = models.CharField(
        max_length=300, help_text="An immutable image reference: a tag or, better, a digest."
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    change_type = models.CharField(
        max_length=20, choices=ChangeType.choices, default=ChangeType.NORMAL
    )
    standard_template = models.ForeignKey(
        StandardChangeTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="releases",
    )
    justification = models.TextField(
        blank=True, help_text="Why an emergency cannot wait for approval."
    )
    risk = models.CharField(max_length=10, default="low")
    risk_reasons = models.JSONField(default=list, blank=True)
    planned_start = models.DateTimeField()
    planned_end = models.DateTimeField()
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_releases"
    )
    links = models.JSONField(default=list, blank=True)
    state = models.CharField(
        max_length=20, choices=ReleaseState.choices, default=ReleaseState.DRAFT
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(
        max_length=300, blank=True, help_text="Why a due release has not started yet."
    )
    promoted_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promotions",
        help_text="The release that succeeded in the previous environment, when this one is its "
        "promotion.",
    )
    promoted_automatically = models.BooleanField(
        default=False, help_text="Asked by Runway itself: the previous environment auto-promotes."
    )
    auto_promotion_hold = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why Runway's last try at promoting it automatically was refused (empty: not "
        "refused). Shown on its page; the next try overwrites it.",
    )
    artifact_verified = models.BooleanField(
        default=False,
        help_text="When it started, its artifact's signature and SLSA provenance were verified "
        "(the supply-chain gates, apps/supplychain).",
    )
    # The first start attempt's supply-chain gates, kept for the security gate pass rate
    # (apps/insights/kpis.py): written once, never overwritten, and kept when the start is
    # refused (release_begin and rollout_start). Empty while no attempt evaluated such gates.
    supply_chain_first_passed = models.BooleanField(
        null=True,
        blank=True,
        help_text="Whether every supply-chain gate passed at the first start attempt.",
    )
    supply_chain_first_at = models.DateTimeField(
        null=True, blank=True, help_text="When the first start attempt evaluated them."
    )
    auto_promotion_tried_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Runway last tried and was refused: refused ones are tried after the "
        "others, so many held back never keep a newer one waiting.",
    )
    retrospective_due_at = models.DateTimeField(null=True, blank=True)
    retrospective_done_at = models.DateTimeField(null=True, blank=True)
    # Two parts of its audit record that its own columns do not hold, kept once it finishes
    # (and again when a decision on it is made later, as a retrospective approval) for the audit
    # completeness KPI (apps/insights/kpis.py), which then need not look at every release's
    # approvals and checks. Empty: not kept (an open release, or a row written in bulk), and
    # worked out from the approvals and checks when read (apps/releases/audit_facts.py).
    approval_on_record = models.BooleanField(
        null=True,
        blank=True,
        editable=False,
        help_text="It has an approving decision that was not invalidated afterwards.",
    )
    checks_passed = models.BooleanField(
        null=True,
        blank=True,
        editable=False,
        help_text="None of the checks CI reported is pending or failed.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Worked out for one page or answer, never stored: set on the releases shown by the
    # selectors (with_lineage) and the API's detail.
    replaces: "Release | None"
    commit_count: int
    approval_status: "ApprovalStatus"
    gates: "list[Gate]"
    conflicts: "list[Conflict]"

    class Meta:
        ordering = ["-planned_start", "-id"]
        indexes = [
            models.Index(fields=["state", "planned_start"], name="release_state_start_idx"),
            models.Index(fields=["service", "-planned_start"], name="release_service_idx"),
            # What last finished in each state per environment (the version running there,
            # its soak) is one index entry away; the two leading columns serve as before.
            models.Index(
                fields=["environment", "state", "-finished_at", "-id"],
                name="release_env_state_done_idx",
            ),
            models.Index(fields=["planned_start", "planned_end"], name="release_window_idx"),
            models.Index(fields=["requester", "-created_at"], name="release_requester_idx"),
            # The approver inbox: pending releases and emergencies awaiting their retrospective,
            # by planned start. Without it the inbox walks every release in time order.
            models.Index(
                fields=["planned_start"],
                condition=models.Q(state="pending_approval")
                | models.Q(
                    change_type="emergency",
                    retrospective_due_at__isnull=False,
                    retrospective_done_at__isnull=True,
                ),
                name="release_inbox_idx",
            ),
            models.Index(
                fields=["retrospective_due_at"],
                condition=models.Q(
                    change_type="emergency",
                    retrospective_due_at__isnull=False,
                    retrospective_done_at__isnull=True,
                ),
                name="release_retrospective_idx",
            ),
            # The reports' platform KPIs count a window's releases by when they started,
            # finished or first met their supply-chain gates: each read from its own index,
            # which holds what the count needs (no visit to the releases themselves).
            models.Index(
                fields=["started_at"],
                include=["environment", "artifact_verified"],
                condition=models.Q(started_at__isnull=False),
                name="release_started_idx",
            ),
            models.Index(
                fields=["finished_at"],
                include=[
                    "environment",
                    "state",
                    "requester",
                    "change_type",
                    "standard_template",
                    "approved_at",
                    "retrospective_done_at",
                    "approval_on_record",
                    "checks_passed",
                    # For the parts still worked out per release (whether Runway rolled it out).
                    "id",
                ],
                condition=models.Q(finished_at__isnull=False),
                name="release_finished_idx",
            ),
            models.Index(
                fields=["supply_chain_first_at"],
                include=["environment", "supply_chain_first_passed"],
                condition=models.Q(supply_chain_first_at__isnull=False),
                name="release_supply_chain_first_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(planned_end__gt=models.F("planned_start")),
                name="release_end_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    supply_chain_first_passed__isnull=True, supply_chain_first_at__isnull=True
                )
                | models.Q(
                    supply_chain_first_passed__isnull=False, supply_chain_first_at__isnull=False
                ),
                name="release_supply_chain_first_outcome",
            ),
            # Runway promotes a release by itself once at most: a promotion rejected or failed
            # is a person's to ask again.
            models.UniqueConstraint(
                fields=["promoted_from"],
                condition=models.Q(promoted_automatically=True),
                name="release_auto_promoted_once",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.service.name} {self.version} → {self.environment.name}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_emergency(self) -> bool:
        return self.change_type == ChangeType.EMERGENCY

    @property
    def needs_independent_approval(self) -> bool:
        """An emergency to production skips the approval queue, not a second pair of eyes."""
        return self.is_emergency and self.environment.is_production

    @property
    def retrospective_state(self) -> str:
        """Empty when no retrospective is asked for; else "done", "overdue" or "due"."""
        if self.retrospective_due_at is None:
            return ""
        if self.retrospective_done_at is not None:
            return "done"
        return "overdue" if self.retrospective_due_at < timezone.now() else "due"

    @property
    def glass_broken(self):
        """The release's BreakGlass, or None."""
        try:
            return self.break_glass
        except BreakGlass.DoesNotExist:
            return None


class BreakGlass(models.Model):
    """An emergency change to production let start without an independent approval, on one
    person's word: who, when, why, and whom Runway paged about it. Its retrospective is due."""

    release = models.OneToOneField(Release, on_delete=models.CASCADE, related_name="break_glass")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    paged = models.JSONField(default=list, help_text="Usernames of the people paged.")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "break glass"

    def __str__(self) -> str:
        return f"break glass on #{self.release_id} by {self.actor}"


class ReleaseCommit(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="commits")
    sha = models.CharField(max_length=64)
    author = models.CharField(max_length=254, help_text="E-mail or username of the author.")
    message = models.TextField(blank=True)
    committed_at = models.DateTimeField()

    class Meta:
        ordering = ["committed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "sha"], name="release_commit_unique")
        ]

    def __str__(self) -> str:
        return self.sha[:12]


class ReleaseTransition(models.Model):
    """One row per state change: the release's history."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=20, choices=ReleaseState.choices)
    to_state = models.CharField(max_length=20, choices=ReleaseState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    gates = models.JSONField(
        default=list, blank=True, help_text="The gates as evaluated for this move (a start)."
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"


class ApprovalPolicy(models.Model):
    """Who must approve a release before it may start. A policy applies to releases into the
    environments it names (an environment kind, or one service's environment), optionally
    narrowed by tier and change type. Every policy that applies must be satisfied."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    environment_kind = models.CharField(
        max_length=20,
        choices=EnvironmentKind.choices,
        blank=True,
        help_text="Every environment of this kind. Leave empty and pick an environment instead.",
    )
    environment = models.ForeignKey(
        Environment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="approval_policies",
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, null=True, blank=True)
    change_type = models.CharField(max_length=20, choices=ChangeType.choices, blank=True)
    separation_of_duties = models.BooleanField(
        default=True, help_text="Requesters and commit authors may not approve."
    )
    require_known_authors = models.BooleanField(
        default=False,
        help_text="Every commit's author must be someone Runway knows (by e-mail, login, name "
        "or a profile alias) before the release starts.",
    )
    wait_minutes = models.PositiveIntegerField(
        default=0, help_text="Time between the last approval and the earliest start."
    )
    approval_ttl_hours = models.PositiveIntegerField(
        default=72, validators=[MinValueValidator(1)], help_text="Approvals expire after this."
    )
    required_checks = models.JSONField(
        default=list, blank=True, help_text='External checks CI must report, e.g. ["tests"].'
    )
    retrospective_days = models.PositiveSmallIntegerField(
        default=2, help_text="Emergency changes need an approval within this many days."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "approval policies"
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(environment_kind="") & models.Q(environment__isnull=True)),
                name="policy_has_scope",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ApprovalRule(models.Model):
    """N approvals from an eligible group. The group: a team, holders of a role, or named users
    (any combination; someone in any of them is eligible)."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    required_count = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True)
    role = models.CharField(max_length=32, blank=True, help_text="e.g. release_manager")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        ordering = ["policy", "id"]

    def __str__(self) -> str:
        return f"{self.policy.name}: {self.name} ({self.required_count})"


class Approval(models.Model):
    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    rule = models.ForeignKey(
        ApprovalRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="approvals"
    )
    comment = models.TextField(blank=True)
    is_retrospective = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalidated_reason = models.CharField(max_length=200, blank=True)
    gates = models.JSONField(
        default=list, blank=True, help_text="The gates as evaluated when the decision was made."
    )
    risks_confirmed = models.JSONField(
        default=list, blank=True, help_text="Failing gates the approver confirmed by name."
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # One live decision per person per release: the database settles double clicks.
            models.UniqueConstraint(
                fields=["release", "approver"],
                condition=models.Q(invalidated_at__isnull=True),
                name="approval_one_live_per_approver",
            )
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.decision} #{self.release_id}"


class ReleaseCheck(models.Model):
    """An external gate reported by CI: tests, a security scan, signed provenance."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="checks")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices)
    details_url = models.URLField(max_length=500, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["release", "name"], name="release_check_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"


class WindowScope(models.TextChoices):
    ORGANISATION = "organisation", "Whole organisation"
    TEAM = "team", "Team"
    SERVICE = "service", "Service"
    ENVIRONMENT = "environment", "Environment kind"


class ChangeWindowQuerySet(models.QuerySet):
    def in_force(self):
        """The windows that decide: active and not deleted."""
        return self.filter(is_active=True, deleted_at__isnull=True)


class ChangeWindow(models.Model):
    """A recurring window (RFC 5545 RRULE in its own time zone) when changes are allowed or
    denied. No allow window in scope means allowed; a deny window wins over any allow window.
    A deleted window is kept, with who deleted it and when, and no longer decides anything."""

    class Kind(models.TextChoices):
        ALLOW = "allow", "Allow"
        DENY = "deny", "Deny"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=5, choices=Kind.choices)
    rrule = models.CharField(max_length=500, help_text="e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH")
    starts_at_local = models.DateTimeField(
        help_text="First occurrence as wall-clock time in the window's time zone (the column "
        "says UTC; only the wall-clock digits count)."
    )
    duration_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    time_zone = models.CharField(max_length=64, default="UTC")
    scope = models.CharField(max_length=20, choices=WindowScope.choices)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, null=True, blank=True)
    environment_kind = models.CharField(max_length=20, choices=EnvironmentKind.choices, blank=True)
    is_active = models.BooleanField(default=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ChangeWindowQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FreezeQuerySet(models.QuerySet):
    def in_force(self):
        """The freezes that stop releases: those not deleted."""
        return self.filter(deleted_at__isnull=True)

    def overlapping(self, start, end):
        """Freezes that may have an occurrence in [start, end): a one-off freeze by its period,
        a recurring one by its first occurrence (apps/releases/windows.py expands it)."""
        return self.filter(
            models.Q(rrule="", starts_at__lt=end, ends_at__gt=start)
            | (~models.Q(rrule="") & models.Q(starts_at__lt=end))
        )


class Freeze(models.Model):
    """A period when nothing in scope may start (a holiday freeze, an incident). It may recur
    (an RRULE in its own time zone, e.g. every quarter end): `starts_at` and `ends_at` are then
    its first occurrence, and each occurrence starts at the same wall-clock time and lasts as
    long. Ending one early cuts the occurrence under way at `ended_early_at`. A deleted freeze
    is kept, with who deleted it and when, and stops nothing."""

    name = models.CharField(max_length=100)
    reason = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    rrule = models.CharField(
        max_length=500,
        blank=True,
        help_text="Empty for a one-off freeze; else RFC 5545, e.g. FREQ=MONTHLY;INTERVAL=3.",
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    scope = models.CharField(max_length=20, choices=WindowScope.choices)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, null=True, blank=True)
    environment_kind = models.CharField(max_length=20, choices=EnvironmentKind.choices, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    ended_early_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True, help_text="Why it was ended early.")
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = FreezeQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="freeze_period_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="freeze_end_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_recurring(self) -> bool:
        return bool(self.rrule)


class CalendarFeed(models.Model):
    """A secret URL a calendar client subscribes to: one user's releases, or a team's."""

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"feed for {self.team or self.user}"


class NotificationDelivery(models.Model):
    """A message that went out, so a retried notification task does not send it twice."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["release", "key"], name="notification_once")]

    def __str__(self) -> str:
        return self.key


class BadVersion(models.Model):
    """A version of a service that is never to be released again (it corrupts data, leaks a
    secret): every release of it is refused and every page where it runs flags it. Kept as the
    record of why."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="bad_versions")
    version = models.CharField(max_length=300)
    reason = models.TextField()
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    marked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-marked_at"]
        constraints = [
            models.UniqueConstraint(fields=["service", "version"], name="bad_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.service.name} {self.version} (bad)"


class VersionPin(models.Model):
    """An environment held at one version: no release of another version starts there until a
    person lifts the pin, saying why."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="pins")
    version = models.CharField(max_length=300)
    reason = models.TextField()
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    pinned_at = models.DateTimeField(auto_now_add=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-pinned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment"],
                condition=models.Q(lifted_at__isnull=True),
                name="one_pin_in_force_per_environment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.environment} pinned to {self.version}"

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None

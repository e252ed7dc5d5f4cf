"""A release train: a named set of service versions to one environment, requested once and
approved once. Each member is an ordinary release (one per service); the train decides, the
releases carry what ships."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.releases.models import ApprovalRule, Release

if TYPE_CHECKING:
    from apps.releases.policies import ApprovalStatus

MIN_MEMBERS = 2
MAX_MEMBERS = 200


class TrainState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    HALTED = "halted", "Halted"
    ROLLING_BACK = "rolling_back", "Rolling back"
    ROLLED_BACK = "rolled_back", "Rolled back"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class RollbackPolicy(models.TextChoices):
    LEAVE = "leave", "Leave what succeeded in place"
    REVERSE = "reverse", "Roll back in reverse wave order"


class Train(models.Model):
    name = models.CharField(max_length=200)
    environment_name = models.CharField(
        max_length=63, help_text="The name of the members' environment, e.g. prod."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_trains"
    )
    state = models.CharField(max_length=20, choices=TrainState.choices, default=TrainState.DRAFT)
    max_parallel = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_MEMBERS)],
        help_text="At most this many members of one wave roll out at once.",
    )
    rollback_policy = models.CharField(
        max_length=10, choices=RollbackPolicy.choices, default=RollbackPolicy.LEAVE
    )
    plan = models.JSONField(
        default=list,
        blank=True,
        help_text="The waves as service names, first wave first; frozen at approval.",
    )
    plan_frozen_at = models.DateTimeField(null=True, blank=True)
    promoted_from = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promoted_to",
        help_text="The train that succeeded in the environment before, promoted as this one.",
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Worked out for one page or answer, never stored (selectors.with_decision_state).
    member_releases: list[Release]
    approval_status: "ApprovalStatus"
    approval_summary: str
    actions_now: list[str]

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "-created_at"], name="train_state_idx")]

    def __str__(self) -> str:
        return f"train #{self.pk} {self.name} → {self.environment_name}"


class TrainMember(models.Model):
    """Links a release to its train. The one-to-one keeps a release in at most one train; the
    releases app needs no column of its own."""

    train = models.ForeignKey(Train, on_delete=models.CASCADE, related_name="members")
    release = models.OneToOneField(
        Release, on_delete=models.PROTECT, related_name="train_membership"
    )
    service_name = models.CharField(max_length=63)

    class Meta:
        ordering = ["service_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["train", "service_name"], name="train_member_service_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_name} in train #{self.train_id}"


class TrainTransition(models.Model):
    """One row per state change: the train's history."""

    train = models.ForeignKey(Train, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=20, choices=TrainState.choices)
    to_state = models.CharField(max_length=20, choices=TrainState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"


class TrainApproval(models.Model):
    """One decision on a train, counted under one rule of the union of its members' policies."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"

    train = models.ForeignKey(Train, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="train_approvals"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    rule = models.ForeignKey(
        ApprovalRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["train", "approver"], name="train_approval_one_per_approver"
            )
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.decision} train #{self.train_id}"

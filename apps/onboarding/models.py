from django.conf import settings
from django.db import models


class Step(models.TextChoices):
    BASICS = "basics", "Basics"
    RUNTIME = "runtime", "Runtime"
    DELIVERY = "delivery", "Delivery"
    OPERATIONS = "operations", "Operations"
    REVIEW = "review", "Review"


class OnboardingDraft(models.Model):
    """A user's wizard in progress: the cleaned values of each step submitted so far, as JSON,
    and the step to resume at. Scratch data of its owner, discarded when the service exists."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="onboarding_drafts"
    )
    data = models.JSONField(default=dict, blank=True, help_text="{step: {field: value}}")
    step = models.CharField(max_length=20, choices=Step.choices, default=Step.BASICS)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"], name="onboarding_draft_one_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.step}"

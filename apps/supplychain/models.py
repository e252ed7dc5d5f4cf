"""Supply-chain trust: the keys Runway trusts, the policies that say what a release's artifact
must carry to roll out, the evidence CI uploads for an artifact (kept as received), and the
vulnerabilities an owner has said do not apply, each until a date."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.accounts.models import Team
from apps.catalog.models import EnvironmentKind, Service

SEVERITY_CHOICES = [(s, s.title()) for s in ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")]


class TrustedKey(models.Model):
    """A public key whose signatures count. Revoked keys stay, so past verifications can be
    read; a revoked or expired key counts for nothing from then on."""

    name = models.CharField(max_length=100, unique=True)
    pem = models.TextField(help_text="The public key, PEM (-----BEGIN PUBLIC KEY-----).")
    algorithm = models.CharField(max_length=20, editable=False)
    fingerprint = models.CharField(max_length=64, editable=False, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.TextField(blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TrustPolicy(models.Model):
    """What an artifact must carry before a release of it may start: for one team's services
    or every team's, in one kind of environment or every kind. Every active policy that applies
    must pass."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="trust_policies"
    )
    environment_kind = models.CharField(
        max_length=20, choices=EnvironmentKind.choices, blank=True, help_text="Empty: every kind."
    )
    is_active = models.BooleanField(default=True)
    require_digest = models.BooleanField(
        default=True, help_text="The release names its image by digest (repo@sha256:…)."
    )
    signature_threshold = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(16)],
        help_text="How many of the policy's keys must have signed the digest (0: none).",
    )
    keys = models.ManyToManyField(TrustedKey, blank=True, related_name="policies")
    require_provenance = models.BooleanField(default=False)
    allowed_builders = models.JSONField(
        default=list, blank=True, help_text="Builder ids, or patterns with * (SLSA provenance)."
    )
    allowed_refs = models.JSONField(
        default=list,
        blank=True,
        help_text='Source refs, or patterns: ["refs/tags/v*"]. Empty: any.',
    )
    require_scan = models.BooleanField(default=False)
    scan_max_age_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    scan_max_severity = models.CharField(max_length=10, choices=SEVERITY_CHOICES, default="HIGH")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "trust policies"

    def __str__(self) -> str:
        return self.name


class Attestation(models.Model):
    """Evidence about one artifact, stored exactly as CI sent it and verified whenever a
    release of the artifact is checked (keys are revoked, policies change)."""

    class Kind(models.TextChoices):
        DSSE = "dsse", "DSSE envelope"
        COSIGN = "cosign", "cosign signature"

    digest = models.CharField(max_length=71, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    payload_type = models.CharField(max_length=200)
    predicate_type = models.CharField(max_length=200, blank=True)
    document = models.JSONField(help_text="As received.")
    content_sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["digest", "uploaded_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["digest", "content_sha256"], name="attestation_once_per_digest"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.digest[:19]}"


class Suppression(models.Model):
    """A vulnerability the owner says does not affect the service (VEX-style), with the reason,
    until a date: after it the finding counts again."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="suppressions")
    vulnerability_id = models.CharField(max_length=100)
    reason = models.TextField()
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service", "vulnerability_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "vulnerability_id"], name="suppression_once_per_service"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} in {self.service_id}"

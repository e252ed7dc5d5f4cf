from django import forms

from apps.accounts.models import Team
from apps.catalog.models import EnvironmentKind
from apps.supplychain.models import SEVERITY_CHOICES, TrustedKey


class TrustedKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. ci-signing-2026")
    pem = forms.CharField(
        label="Public key (PEM)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="-----BEGIN PUBLIC KEY----- …: ECDSA P-256, Ed25519, or RSA of 2,048 bits.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Trusted until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: until revoked.",
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(max_length=2000, min_length=10)


class LinesField(forms.CharField):
    """One entry per line, blank lines left out."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def to_python(self, value) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class TrustPolicyForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="Every team"
    )
    environment_kind = forms.ChoiceField(
        choices=[("", "Every environment"), *EnvironmentKind.choices], required=False
    )
    keys = forms.ModelMultipleChoiceField(
        queryset=TrustedKey.objects.filter(revoked_at__isnull=True).order_by("name"),
        required=False,
        to_field_name="name",
        help_text="The keys whose signatures count.",
    )
    require_digest = forms.BooleanField(required=False, initial=True)
    signature_threshold = forms.IntegerField(
        min_value=0, max_value=16, initial=1, help_text="How many of the keys must have signed."
    )
    require_provenance = forms.BooleanField(required=False)
    allowed_builders = LinesField(
        required=False, help_text="Builder ids or patterns with *, one per line."
    )
    allowed_refs = LinesField(
        required=False,
        help_text="Source refs or patterns, one per line (refs/tags/v*). Empty: any.",
    )
    require_scan = forms.BooleanField(required=False)
    scan_max_age_days = forms.IntegerField(min_value=1, max_value=365, initial=7)
    scan_max_severity = forms.ChoiceField(choices=SEVERITY_CHOICES, initial="HIGH")

from django import forms


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

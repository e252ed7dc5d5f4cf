from typing import Any

from rest_framework import serializers

from apps.accounts.models import Team
from apps.catalog.models import Service
from apps.core.serializers import ChangesSerializer
from apps.supplychain.models import (
    SEVERITY_CHOICES,
    Attestation,
    Suppression,
    TrustedKey,
    TrustPolicy,
)


class AttestationSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)

    class Meta:
        model = Attestation
        fields = [
            "id",
            "digest",
            "kind",
            "payload_type",
            "predicate_type",
            "uploaded_by",
            "uploaded_at",
        ]
        read_only_fields = fields


class AttestationUploadSerializer(serializers.Serializer):
    """A DSSE envelope (payload, payloadType, signatures: [{sig, keyid}]) as cosign and the
    in-toto tools write it, or a cosign signature: the simple-signing payload and the signature,
    both base64."""

    payload = serializers.CharField(help_text="Base64 (standard or URL-safe).")
    payloadType = serializers.CharField(required=False, help_text="DSSE: the payload's type.")
    signatures = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="DSSE: [{sig, keyid}]."
    )
    signature = serializers.CharField(required=False, help_text="cosign: the base64 signature.")


class TrustedKeySerializer(serializers.ModelSerializer):
    added_by = serializers.CharField(source="added_by.username", read_only=True)

    class Meta:
        model = TrustedKey
        fields = [
            "id", "name", "pem", "algorithm", "fingerprint", "expires_at", "revoked_at",
            "revoked_reason", "added_by", "added_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "algorithm", "fingerprint", "revoked_at", "revoked_reason", "added_by",
            "added_at",
        ]  # fmt: skip
        # A taken name is the service's 409, not the serializer's 400.
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class TrustPolicySerializer(serializers.ModelSerializer):
    team: "serializers.SlugRelatedField[Team]" = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, help_text="Empty: every team."
    )
    keys: "serializers.SlugRelatedField[TrustedKey]" = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )

    class Meta:
        model = TrustPolicy
        fields = [
            "id", "name", "description", "team", "environment_kind", "is_active",
            "require_digest", "signature_threshold", "keys", "require_provenance",
            "allowed_builders", "allowed_refs", "require_scan", "scan_max_age_days",
            "scan_max_severity", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class TrustPolicyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    team: "serializers.SlugRelatedField[Team]" = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="A team's slug; empty: every team.",
        error_messages={"does_not_exist": "No team is called “{value}”."},
    )
    environment_kind = serializers.CharField(required=False, allow_blank=True, max_length=20)
    keys = serializers.ListField(child=serializers.CharField(max_length=100), max_length=16)
    require_digest = serializers.BooleanField(default=True)
    signature_threshold = serializers.IntegerField(min_value=0, max_value=16, default=1)
    require_provenance = serializers.BooleanField(default=False)
    allowed_builders = serializers.ListField(
        child=serializers.CharField(max_length=300), max_length=50, default=list
    )
    allowed_refs = serializers.ListField(
        child=serializers.CharField(max_length=300), max_length=50, default=list
    )
    require_scan = serializers.BooleanField(default=False)
    scan_max_age_days = serializers.IntegerField(min_value=1, max_value=365, default=7)
    scan_max_severity = serializers.ChoiceField(choices=SEVERITY_CHOICES, default="HIGH")


class TrustPolicyUpdateSerializer(ChangesSerializer, TrustPolicyCreateSerializer):
    """Any of the fields; what is not sent stays as it is."""

    is_active = serializers.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


class SuppressionSerializer(serializers.ModelSerializer):
    service: "serializers.SlugRelatedField[Service]" = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = Suppression
        fields = [
            "id",
            "service",
            "vulnerability_id",
            "reason",
            "expires_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class SuppressionSetSerializer(serializers.Serializer):
    service: "serializers.SlugRelatedField[Service]" = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Service.objects.all(),
        error_messages={"does_not_exist": "No service is called “{value}”."},
    )
    vulnerability_id = serializers.CharField(max_length=100)
    reason = serializers.CharField(max_length=5000)
    expires_at = serializers.DateTimeField()

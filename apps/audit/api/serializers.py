from rest_framework import serializers

from apps.audit.models import AuditEvent, AuditSeal


class AuditSealSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditSeal
        fields = ["seq", "mac", "key_id"]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    # Null for a moment after the event's transaction commits, until it is sealed.
    seal = AuditSealSerializer(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor_label",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "before",
            "after",
            "request_id",
            "ip",
            "seal",
        ]
        read_only_fields = fields

"""Input and output shapes of the reports API."""

from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers

from apps.accounts.models import User
from apps.catalog.models import Service
from apps.insights import dora
from apps.insights.models import ServiceScore, SourceKind, WebhookDelivery, WebhookSource
from apps.insights.selectors import dora_window
from apps.insights.serializer_fields import PlainChoiceField
from apps.insights.services.sources import MAX_GRACE, MAX_SECRET_LENGTH

# --- Webhook sources --------------------------------------------------------------------------


class WebhookSourceSerializer(serializers.ModelSerializer):
    created_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    kind = PlainChoiceField(SourceKind.choices, read_only=True)
    endpoint = serializers.SerializerMethodField(
        help_text="The URL to give the vendor as the webhook's payload URL."
    )

    class Meta:
        model = WebhookSource
        fields = [
            "id",
            "name",
            "slug",
            "kind",
            "is_active",
            "endpoint",
            "created_by",
            "created_at",
            "rotated_at",
            "previous_secret_expires_at",
        ]
        read_only_fields = fields

    def get_endpoint(self, source: WebhookSource) -> str:
        name = (
            "insights-incident-events"
            if source.kind == SourceKind.PAGERDUTY
            else "insights-deployment-events"
        )
        path = f"{reverse(name)}?source={source.slug}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class WebhookSourceWithSecretSerializer(WebhookSourceSerializer):
    secret = serializers.SerializerMethodField(
        help_text="Shown this once: paste it into the vendor's webhook settings now."
    )

    class Meta(WebhookSourceSerializer.Meta):
        fields = [*WebhookSourceSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, source: WebhookSource) -> str:
        return self.context["secret"]


class WebhookSourceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = PlainChoiceField(SourceKind.choices)
    secret = serializers.CharField(
        max_length=MAX_SECRET_LENGTH,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Leave empty and Runway generates one. Required for PagerDuty, which "
        "generates its own signing secret.",
    )


class WebhookSourceRotateSerializer(serializers.Serializer):
    grace_hours = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_GRACE / timedelta(hours=1)),
        default=24,
        help_text="How long the current secret stays valid beside the new one (0: not at all).",
    )
    secret = serializers.CharField(
        max_length=MAX_SECRET_LENGTH,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Leave empty and Runway generates one (required for PagerDuty).",
    )


# --- Unmatched deliveries ---------------------------------------------------------------------


class UnmatchedDeliverySerializer(serializers.ModelSerializer):
    # A field, not Field.source: the stubs see the attribute DRF moves declared fields off.
    source: "serializers.SlugRelatedField[WebhookSource]" = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )  # type: ignore[assignment]
    source_kind = serializers.CharField(source="source.kind", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "source",
            "source_kind",
            "delivery_id",
            "event",
            "subject",
            "match_kind",
            "match_key",
            "note",
            "occurred_at",
            "received_at",
        ]
        read_only_fields = fields


class UnmatchedDeliveryDetailSerializer(UnmatchedDeliverySerializer):
    class Meta(UnmatchedDeliverySerializer.Meta):
        fields = [*UnmatchedDeliverySerializer.Meta.fields, "payload"]
        read_only_fields = fields


class DeliveryMapSerializer(serializers.Serializer):
    service = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Service.objects.all(),
        error_messages={"does_not_exist": "No service is called “{value}”."},
    )
    remember = serializers.BooleanField(
        default=True,
        help_text="Map the repository (or incident service name) for good: later deliveries "
        "match by themselves and others waiting with it are recorded now.",
    )


class DeliveryMapResultSerializer(serializers.Serializer):
    recorded = serializers.IntegerField(help_text="How many deliveries were recorded.")


class DeliveryReceiptSerializer(serializers.Serializer):
    status = PlainChoiceField(
        ["recorded", "unmatched", "ignored", "duplicate"],
        help_text="recorded (201); unmatched, waiting for an admin to name its service (202); "
        "ignored (202); duplicate: this delivery id was received before (200).",
    )
    delivery = serializers.IntegerField(source="delivery.pk")
    detail = serializers.CharField(source="delivery.note")


# --- DORA -------------------------------------------------------------------------------------


class DoraQuerySerializer(serializers.Serializer):
    scope = PlainChoiceField(dora.SCOPES, default=dora.ORG)
    name = serializers.CharField(required=False, allow_blank=True, default="")

    def get_fields(self):
        # `from` is a Python keyword: the fields are added by name.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        fields["to"] = serializers.DateField(required=False)
        return fields

    def validate(self, data):
        try:
            data["from"], data["to"] = dora_window(data.get("from"), data.get("to"))
        except DjangoValidationError as exc:
            # The selector speaks of start and end; this API of `from` and `to`.
            raise serializers.ValidationError(
                {"from": exc.message_dict.get("start", exc.messages)}
            ) from None
        return data


class WeekCountSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="The Monday the week starts on.")
    deployments = serializers.IntegerField()
    failures = serializers.IntegerField()
    days_with_deployments = serializers.IntegerField()


def _tier_field():
    return PlainChoiceField(
        [dora.ELITE, dora.HIGH, dora.MEDIUM, dora.LOW],
        allow_null=True,
        help_text="The DORA 2023 performance tier; null without data.",
    )


class DeploymentFrequencySerializer(serializers.Serializer):
    deployments = serializers.IntegerField()
    weeks = serializers.IntegerField()
    per_week = serializers.FloatField(allow_null=True)
    bucket = serializers.ChoiceField(
        choices=[dora.DAILY, dora.WEEKLY, dora.MONTHLY, dora.YEARLY],
        allow_null=True,
        help_text="Four Keys: daily (median week has 3+ days with a deployment), weekly, "
        "monthly, yearly; null without deployments.",
    )
    tier = _tier_field()
    weekly = WeekCountSerializer(many=True)


class LeadTimeSerializer(serializers.Serializer):
    median_seconds = serializers.FloatField(allow_null=True)
    commits = serializers.IntegerField()
    tier = _tier_field()


class ChangeFailureRateSerializer(serializers.Serializer):
    rate = serializers.FloatField(allow_null=True, help_text="0 to 1.")
    failures = serializers.IntegerField()
    deployments = serializers.IntegerField()
    tier = _tier_field()


class RecoverySerializer(serializers.Serializer):
    median_seconds = serializers.FloatField(allow_null=True)
    tier = _tier_field()
    incidents = serializers.IntegerField()
    incident_median_seconds = serializers.FloatField(allow_null=True)
    rollbacks = serializers.IntegerField()
    rollback_median_seconds = serializers.FloatField(allow_null=True)
    incidents_unknown_start = serializers.IntegerField(
        help_text="Incidents resolved in the window that Runway never saw open and whose vendor "
        "sent no start: left out of the medians."
    )


class DoraReportSerializer(serializers.Serializer):
    scope = PlainChoiceField(dora.SCOPES)
    name = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    deployment_frequency = DeploymentFrequencySerializer()
    lead_time = LeadTimeSerializer()
    change_failure_rate = ChangeFailureRateSerializer()
    recovery = RecoverySerializer()


# --- Scorecards -------------------------------------------------------------------------------


class ServiceScoreSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="service.name", help_text="The service's name.")
    team = serializers.CharField(source="service.owner.slug", help_text="The owner team's slug.")
    level = serializers.IntegerField(help_text="0 no level, 1 Bronze, 2 Silver, 3 Gold.")
    level_label = serializers.CharField(source="get_level_display")
    passed = serializers.IntegerField(help_text="Enabled rules that pass.")
    total = serializers.IntegerField(help_text="Enabled rules.")
    results = serializers.DictField(
        child=serializers.BooleanField(),
        help_text="Every rule's result by key, including rules switched off.",
    )

    class Meta:
        model = ServiceScore
        fields = [
            "service",
            "team",
            "level",
            "level_label",
            "passed",
            "total",
            "results",
            "evaluated_at",
        ]
        read_only_fields = fields


class ScorecardRuleSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    how_to_pass = serializers.CharField()
    level = serializers.IntegerField(help_text="1 Bronze, 2 Silver, 3 Gold.")
    level_label = serializers.CharField()
    enabled = serializers.BooleanField(help_text="Whether the rule counts for its level.")
    services_passing = serializers.IntegerField(help_text="Scored services that pass it.")
    services_scored = serializers.IntegerField()

"""Serializer fields shared by the webhook shapes and the API."""

from datetime import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.insights.webhooks.errors import BadPayload
from apps.insights.webhooks.timestamps import parse_time


@extend_schema_field(OpenApiTypes.STR)
class PlainChoiceField(serializers.ChoiceField):
    """Validated as a choice, documented as a string listing its values: other apps' fields of
    the same name (kind, status, scope, tier) already name their own enums in the schema."""

    def __init__(self, choices, **kwargs):
        values = ", ".join(str(value) for value in dict(serializers.ChoiceField(choices).choices))
        kwargs["help_text"] = " ".join(
            filter(None, [kwargs.get("help_text"), f"One of: {values}."])
        )
        super().__init__(choices, **kwargs)


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeField(serializers.Field):
    """ISO 8601 with a time zone; a time without one is refused rather than guessed."""

    def to_internal_value(self, data: object) -> datetime:
        field = self.field_name or ""
        try:
            return parse_time(data, field)
        except BadPayload as exc:
            detail = exc.detail
            raise serializers.ValidationError(
                detail[field] if isinstance(detail, dict) else detail
            ) from None

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()

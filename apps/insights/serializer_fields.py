"""Serializer fields shared by the webhook shapes and the API."""

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

    def to_internal_value(self, data):
        try:
            return parse_time(data, self.field_name)
        except BadPayload as exc:
            raise serializers.ValidationError(exc.detail[self.field_name]) from None

    def to_representation(self, value):
        return value.isoformat()

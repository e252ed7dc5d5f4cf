"""Serializer pieces every app's API shares. Kept apart from api.py, which DRF's settings
import: a serializer module importing that one would import it half made."""

from rest_framework import serializers


class ChangesSerializer(serializers.Serializer):
    """The body of a partial update: any of its fields, at least one. A field that cannot change
    there (the object's identity, its state...) is named, not ignored."""

    def validate(self, data):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {field: ["This field cannot be changed here."] for field in unknown}
            )
        if not data:
            raise serializers.ValidationError("Send at least one field to change.")
        return data

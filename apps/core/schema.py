"""The OpenAPI schema's error answers, declared in one place for every operation.

drf-spectacular documents what a view returns when all goes well; the refusals come from DRF, the
exception handler (apps/core/api.py) and middleware, the same for every view. They are added here
from what the operation takes, so that the schema lists every status code a client can get and
the body that comes with it: a view that declares a code itself keeps its description."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """A refusal: what went wrong, in a sentence."""

    detail = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """Bad input. Each key names a field (or `detail`, or `non_field_errors`) and holds its
    messages; a nested object or list holds the errors of a nested field, by position."""


class _ErrorExtension(OpenApiSerializerExtension):
    # Only `detail`: a body with more (a Backstage source error) is another shape, and a client
    # telling them apart by the schema may rely on that.
    target_class = ErrorSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        return {**schema, "additionalProperties": False}


class _ValidationErrorExtension(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "description": " ".join((ValidationErrorSerializer.__doc__ or "").split()),
            "additionalProperties": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {}}, {"type": "object"}]
            },
        }


DESCRIPTIONS = {
    400: "Bad input: the body names the field and says why.",
    401: "No credentials, or a token that is unknown, expired or revoked.",
    403: "Not allowed: your role or team may not do this, or your role needs a second factor.",
    404: "Not found (or not visible to you), or a page past the last.",
    409: "It has happened already, or something else is in the way.",
    413: "The request body is larger than the limit.",
    415: "The body's Content-Type is not one this operation reads.",
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._error_codes(operation):
            responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
        for code, declared in responses.items():
            # A code the view declared with no body (403: "Only platform admins") still has one.
            if int(code) >= 400 and "content" not in declared:
                body = ValidationErrorSerializer if code == "400" else ErrorSerializer
                declared["content"] = self._get_response_for_code(body, code)["content"]
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_codes(self, operation) -> list[int]:
        parameters = operation.get("parameters", [])
        takes_body = "requestBody" in operation
        codes = []
        if parameters or takes_body:
            codes.append(400)  # a filter, a parameter or a body the view refuses; a NUL byte
        if not any(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            # Signed in or not; allowed, or not (the role, the team, a missing second factor).
            codes += [401, 403]
        if any(p["in"] == "path" for p in parameters) or any(
            p["in"] == "query" and p["name"] == "page" for p in parameters
        ):
            codes.append(404)
        if takes_body:
            codes.append(413)  # portal/body_limit.py
            if isinstance(self.view.get_content_negotiator(), DefaultContentNegotiation):
                codes.append(415)
        return codes

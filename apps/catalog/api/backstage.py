"""Backstage compatibility over the API.

POST /api/v1/catalog/import                       a Backstage YAML stream in, the import report out
GET  /api/v1/services/<name>/catalog-info.yaml    a service as a Backstage Component descriptor
"""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import permissions
from apps.catalog.backstage.exporter import export_queryset, service_catalog_info, to_yaml
from apps.catalog.backstage.importer import catalog_import
from apps.catalog.backstage.loader import MAX_SOURCE_BYTES, SourceError, SourceTooLarge
from apps.core.bounded_input import BadInput, load_json
from apps.core.schema import ErrorSerializer, ValidationErrorSerializer

# A JSON body escapes the YAML inside it; leave room for that before refusing to read on.
_JSON_BODY_LIMIT = 2 * MAX_SOURCE_BYTES + 1024


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The catalog text is larger than {MAX_SOURCE_BYTES:,} bytes."
    default_code = "payload_too_large"


def _read_limited(stream, limit: int) -> bytes:
    """The request body, refused without reading it all when it is larger than `limit`."""
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge
    return body


class YamlTextParser(BaseParser):
    """A raw YAML body, handed to the view as {"yaml": text}."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        body = _read_limited(stream, MAX_SOURCE_BYTES)
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            return {"yaml": body.decode(encoding)}
        except (UnicodeDecodeError, LookupError):
            raise serializers.ValidationError({"yaml": "The body is not UTF-8 text."}) from None


class XYamlTextParser(YamlTextParser):
    media_type = "application/x-yaml"


class TextYamlParser(YamlTextParser):
    media_type = "text/yaml"


class PlainTextParser(YamlTextParser):
    media_type = "text/plain"


class LimitedJSONParser(BaseParser):
    """JSON, read from the stream with our own limit (DRF's JSONParser would stop at Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB, with a bare 400)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        body = _read_limited(stream, _JSON_BODY_LIMIT)
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            return load_json(body.decode(encoding))
        except BadInput as exc:
            raise ParseError({exc.field: [exc.message]}) from None
        except (LookupError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {exc}") from None


class YamlRenderer(BaseRenderer):
    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return (data if isinstance(data, str) else to_yaml(data)).encode(self.charset)


class ImportRequestSerializer(serializers.Serializer):
    yaml = serializers.CharField(
        trim_whitespace=False, help_text="One or more Backstage entities as multi-document YAML."
    )


class IssueSerializer(serializers.Serializer):
    source = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.source
    document = serializers.IntegerField(allow_null=True, help_text="1-based")
    field = serializers.CharField(help_text="The Backstage field at fault, e.g. spec.owner")
    message = serializers.CharField()


class CountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class ImportReportSerializer(serializers.Serializer):
    import_id = serializers.CharField(help_text="The audit event's target id.")
    ok = serializers.BooleanField(help_text="False when any entity was not imported.")
    document_numbering = serializers.CharField()
    sources = serializers.ListField(child=serializers.CharField())
    counts = serializers.DictField(child=CountsSerializer(), help_text="Per Backstage kind.")
    created = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    updated = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    relations = serializers.DictField(child=serializers.IntegerField())
    errors = IssueSerializer(  # type: ignore[assignment]  # a field, not Serializer.errors
        many=True, help_text="Entities not imported; the others were."
    )
    warnings = IssueSerializer(many=True)
    skipped_documents = serializers.IntegerField()


class SourceErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.source
    line = serializers.IntegerField(allow_null=True)
    document = serializers.IntegerField(allow_null=True)


def _either(name: str, other) -> PolymorphicProxySerializer:
    """A source error, or `other`: the refusal of the request as a whole."""
    return PolymorphicProxySerializer(
        name, [SourceErrorSerializer, other], resource_type_field_name=None
    )


class CatalogImportView(APIView):
    parser_classes = [
        YamlTextParser,
        XYamlTextParser,
        TextYamlParser,
        PlainTextParser,
        LimitedJSONParser,
    ]
    permission_classes = [permissions.api_rule(permissions.can_create_services)]

    @extend_schema(
        operation_id="catalog_import",
        summary="Import Backstage catalog entities",
        description=(
            "The body is Backstage catalog YAML (one or more documents) sent as application/yaml "
            'or text/plain, or JSON {"yaml": "..."}. Entities that cannot be imported are '
            "listed in `errors` with their document (1-based) and field; the rest are imported "
            f"(still 200). 413 over {MAX_SOURCE_BYTES:,} bytes; 400 for text that is not YAML."
        ),
        request={
            "application/yaml": OpenApiTypes.STR,
            "text/plain": OpenApiTypes.STR,
            "application/json": ImportRequestSerializer,
        },
        responses={
            200: ImportReportSerializer,
            400: OpenApiResponse(
                _either("ImportRefusal", ValidationErrorSerializer),
                description="Not YAML, or unsafe YAML (the source error says where); or the "
                "body has no `yaml`.",
            ),
            403: OpenApiResponse(description="Only developers in a team and platform admins."),
            413: OpenApiResponse(
                _either("ImportTooLarge", ErrorSerializer),
                description="Larger than the limit: the YAML (a source error), or the body.",
            ),
        },
        examples=[
            OpenApiExample(
                "A component",
                request_only=True,
                media_type="application/yaml",
                value=(
                    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
                    "  name: checkout\nspec:\n  type: service\n  lifecycle: production\n"
                    "  owner: group:default/payments\n"
                ),
            )
        ],
    )
    def post(self, request):
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            report = catalog_import(
                actor=request.user, sources=[("upload", serializer.validated_data["yaml"])]
            )
        except SourceTooLarge as exc:
            return Response(exc.as_dict(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except SourceError as exc:
            return Response(exc.as_dict(), status=status.HTTP_400_BAD_REQUEST)
        return Response(report.as_dict())


class ServiceCatalogInfoView(APIView):
    renderer_classes = [YamlRenderer, JSONRenderer]
    permission_classes = [permissions.api_rule(permissions.can_read)]

    @extend_schema(
        operation_id="services_catalog_info_retrieve",
        summary="A service as a Backstage catalog-info.yaml",
        responses={
            (200, "application/yaml"): OpenApiTypes.STR,
            (200, "application/json"): OpenApiTypes.OBJECT,
            404: OpenApiResponse(description="No service of that name."),
        },
    )
    def get(self, request, name: str):
        service = permissions.get_visible_or_404(export_queryset(), name=name)
        response = Response(service_catalog_info(service))
        if request.accepted_renderer.format == "yaml":
            response["Content-Disposition"] = 'inline; filename="catalog-info.yaml"'
        return response


urlpatterns = [
    path("catalog/import", CatalogImportView.as_view(), name="catalog-import"),
    path(
        "services/<str:name>/catalog-info.yaml",
        ServiceCatalogInfoView.as_view(),
        name="service-catalog-info",
    ),
]

"""The evidence of a period through the API: the same ZIP as the page (apps/releases/
evidence_export.py), for an auditor's script."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.releases.evidence_export import EvidencePeriod, evidence_zip


class EvidencePeriodSerializer(serializers.Serializer):
    team = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        required=False,
        help_text="A team's slug; without it, the whole organisation.",
    )
    start = serializers.DateField()
    end = serializers.DateField(help_text="Included.")


class EvidenceExportView(APIView):
    permission_classes = [permissions.api_rule(permissions.can_read)]

    @extend_schema(
        summary="Every production release of a period, as a ZIP of evidence packs and an index",
        parameters=[EvidencePeriodSerializer],
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="Refused: the body names the field and says why."),
        },
    )
    def get(self, request):
        query = EvidencePeriodSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = EvidencePeriod(**query.validated_data)
        try:
            content, _ = evidence_zip(period)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{period.name}.zip"'
        return response

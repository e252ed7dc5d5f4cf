"""The reports API: webhook receivers (authenticated by each source's secret, not by Runway's
sign-in), webhook source administration, unmatched deliveries, and the DORA report."""

from datetime import timedelta

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import permissions
from apps.insights import selectors, services, webhooks
from apps.insights.api.serializers import (
    DeliveryMapResultSerializer,
    DeliveryMapSerializer,
    DeliveryReceiptSerializer,
    DoraQuerySerializer,
    DoraReportSerializer,
    ScorecardRuleSerializer,
    ServiceScoreSerializer,
    UnmatchedDeliveryDetailSerializer,
    UnmatchedDeliverySerializer,
    WebhookSourceCreateSerializer,
    WebhookSourceRotateSerializer,
    WebhookSourceSerializer,
    WebhookSourceWithSecretSerializer,
)
from apps.insights.scorecards import selectors as scorecard_selectors
from apps.insights.scorecards.filters import ScorecardFilter
from apps.insights.webhooks.errors import WebhookRejected
from apps.insights.webhooks.generic import GenericDeploymentSerializer, GenericIncidentSerializer

REFUSED = OpenApiResponse(description="Refused: the body names the field or problem and says why.")
FORBIDDEN = OpenApiResponse(description="Only platform admins.")
NOT_FOUND = OpenApiResponse(description="Not found.")
SOURCE_PARAMETER = OpenApiParameter(
    "source",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=True,
    description="The webhook source's slug or id.",
)


class _JsonWhateverTheyAccept(BaseContentNegotiation):
    """Vendors send Accept headers of all sorts; the answer is JSON regardless."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _WebhookView(APIView):
    """Vendors cannot send Runway credentials: the source's secret authenticates the delivery
    (see apps.insights.webhooks.signatures), so DRF's authentication is off here."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JsonWhateverTheyAccept
    endpoint = ""

    def post(self, request):
        try:
            outcome = services.delivery_receive(
                source_ref=request.query_params.get("source", ""),
                endpoint=self.endpoint,
                headers=request.headers,
                body=request.body,
                content_type=request.content_type or "application/json",
            )
        except WebhookRejected as exc:
            return Response(exc.as_body(), status=exc.status)
        return Response(DeliveryReceiptSerializer(outcome).data, status=outcome.http_status)


_RECEIPTS = {
    200: DeliveryReceiptSerializer,
    201: DeliveryReceiptSerializer,
    202: DeliveryReceiptSerializer,
    400: REFUSED,
    401: OpenApiResponse(description="Unknown or inactive source, or a bad signature."),
}


@extend_schema(
    summary="Receive a deployment, push or pipeline webhook (GitHub, GitLab or generic JSON)",
    description=(
        "GitHub (`X-GitHub-Event`: deployment_status, push, workflow_run; signed with "
        "`X-Hub-Signature-256`), GitLab (`X-Gitlab-Event`: Deployment Hook, Push Hook, Pipeline "
        "Hook; `X-Gitlab-Token`) or the generic shape below (`X-Runway-Signature-256: "
        "sha256=<hex HMAC-SHA256 of the body>` or `Authorization: Bearer <secret>`). Other "
        "events are acknowledged and ignored. A delivery id is stored once per source. A "
        "repository no catalog service has is kept for a platform admin to map."
    ),
    parameters=[SOURCE_PARAMETER],
    request={"application/json": GenericDeploymentSerializer},
    responses=_RECEIPTS,
    auth=[],
)
class DeploymentEventsView(_WebhookView):
    endpoint = webhooks.DEPLOYMENTS


@extend_schema(
    summary="Receive an incident webhook (PagerDuty V3 or generic JSON)",
    description=(
        "PagerDuty V3 (`X-PagerDuty-Signature: v1=<hex HMAC-SHA256>`, several during a "
        "rotation; `X-Webhook-Id` makes retries idempotent): incident.triggered, "
        "incident.resolved, incident.reopened. Or the generic shape below. An incident counts "
        "against the deployment it names (`caused_by_version`), else the latest production "
        "deployment of its service that started before it opened."
    ),
    parameters=[SOURCE_PARAMETER],
    request={"application/json": GenericIncidentSerializer},
    responses=_RECEIPTS,
    auth=[],
)
class IncidentEventsView(_WebhookView):
    endpoint = webhooks.INCIDENTS


@extend_schema_view(
    list=extend_schema(summary="Webhook sources (never their secrets)"),
    retrieve=extend_schema(summary="A webhook source", responses={200: WebhookSourceSerializer}),
)
class WebhookSourceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [permissions.api_rule(permissions.can_manage_webhooks)]
    serializer_class = WebhookSourceSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.webhook_source_list()

    @extend_schema(
        summary="Create a webhook source: its secret is in this response, and only here",
        request=WebhookSourceCreateSerializer,
        responses={201: WebhookSourceWithSecretSerializer, 400: REFUSED, 403: FORBIDDEN},
    )
    def create(self, request):
        body = WebhookSourceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        source, secret = services.webhook_source_create(actor=request.user, **body.validated_data)
        return Response(self._with_secret(source, secret), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Rotate the secret: the new one is in this response, and only here",
        description="The current secret stays valid for `grace_hours` (default 24) beside it.",
        request=WebhookSourceRotateSerializer,
        responses={
            200: WebhookSourceWithSecretSerializer,
            400: REFUSED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        body = WebhookSourceRotateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        source, secret = services.webhook_source_rotate(
            actor=request.user,
            source=self.get_object(),
            grace=timedelta(hours=body.validated_data["grace_hours"]),
            secret=body.validated_data.get("secret"),
        )
        return Response(self._with_secret(source, secret))

    @extend_schema(
        summary="Deactivate a source: its deliveries are refused from now on",
        request=None,
        responses={200: WebhookSourceSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        source = services.webhook_source_deactivate(actor=request.user, source=self.get_object())
        return Response(self.get_serializer(source).data)

    def _with_secret(self, source, secret: str) -> dict:
        context = {**self.get_serializer_context(), "secret": secret}
        return WebhookSourceWithSecretSerializer(source, context=context).data


@extend_schema_view(
    list=extend_schema(summary="Deliveries waiting for an admin to name their service"),
    retrieve=extend_schema(
        summary="An unmatched delivery, with its payload",
        responses={200: UnmatchedDeliveryDetailSerializer, 404: NOT_FOUND},
    ),
)
class UnmatchedDeliveryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [permissions.api_rule(permissions.can_manage_webhooks)]
    filter_backends = []

    def get_queryset(self):
        return selectors.unmatched_delivery_list()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return UnmatchedDeliveryDetailSerializer
        return UnmatchedDeliverySerializer

    @extend_schema(
        summary="Name the service of an unmatched delivery, and record it",
        request=DeliveryMapSerializer,
        responses={200: DeliveryMapResultSerializer, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def map(self, request, pk=None):
        body = DeliveryMapSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        recorded = services.unmatched_delivery_map(
            actor=request.user, delivery=self.get_object(), **body.validated_data
        )
        return Response({"recorded": recorded})


class DoraReportView(APIView):
    permission_classes = [permissions.api_rule(permissions.can_view_reports)]

    @extend_schema(
        summary="The DORA four keys of the organisation, a team or a service",
        description=(
            "Production deployments over the days `from`..`to` (inclusive, in the site's time "
            "zone; default: the last 90 days). Deployment frequency with its Four Keys bucket "
            "and weekly counts, median lead time for changes, change failure rate, failed "
            "deployment recovery time, each with its DORA 2023 tier (null without data)."
        ),
        parameters=[
            OpenApiParameter("scope", OpenApiTypes.STR, enum=["org", "team", "service"]),
            OpenApiParameter("name", OpenApiTypes.STR, description="Team slug or service name."),
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (YYYY-MM-DD)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (YYYY-MM-DD)."),
        ],
        responses={
            200: DoraReportSerializer,
            400: REFUSED,
            404: OpenApiResponse(description="No such team or service."),
        },
    )
    def get(self, request):
        query = DoraQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            report = selectors.dora_report(
                scope=query.validated_data["scope"],
                name=query.validated_data["name"],
                start=query.validated_data["from"],
                end=query.validated_data["to"],
            )
        except selectors.ScopeNotFound as exc:
            raise Http404(str(exc)) from None
        return Response(DoraReportSerializer(report).data)


@extend_schema_view(
    list=extend_schema(
        summary="Scorecards: each service's level, its passed rules and every rule's result",
        description=(
            "By team, then service. `level`, `passed` and `total` count the enabled rules; "
            "`results` holds every rule, enabled or not. Scores are evaluated hourly and after "
            "a rule changes; a service never evaluated yet is not listed."
        ),
    )
)
class ScorecardViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.api_rule(permissions.can_view_reports)]
    serializer_class = ServiceScoreSerializer
    filterset_class = ScorecardFilter

    def get_queryset(self):
        return scorecard_selectors.service_scores()


@extend_schema_view(
    list=extend_schema(
        summary="The scorecard rules: level, whether each counts, how many services pass it"
    )
)
class ScorecardRuleViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.api_rule(permissions.can_view_reports)]
    serializer_class = ScorecardRuleSerializer
    filter_backends = []

    def list(self, request):
        # Pages of a list as of a queryset (Django's Paginator takes both); the stubs ask for
        # a queryset.
        rules: list = scorecard_selectors.rule_summaries()
        page: list | None = self.paginate_queryset(rules)  # type: ignore[arg-type]
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

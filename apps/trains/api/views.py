"""The trains API. Every write goes through the same service function as the pages."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts import permissions
from apps.core import idempotency
from apps.trains import promotion, selectors, services
from apps.trains.api.serializers import (
    TrainCancelSerializer,
    TrainCreateSerializer,
    TrainDecisionSerializer,
    TrainDetailSerializer,
    TrainListSerializer,
    TrainPlanSerializer,
    TrainPromoteSerializer,
    TrainRejectSerializer,
    WavesSerializer,
)
from apps.trains.evidence import train_evidence_file_name, train_evidence_zip
from apps.trains.models import Train
from apps.trains.transitions import may_request_trains

REFUSED = OpenApiResponse(description="Refused: the body names the field and says why.")
FORBIDDEN = OpenApiResponse(description="Your role or team may not do this.")
NOT_FOUND = OpenApiResponse(description="No train with this id.")


def _action_schema(summary: str, request):
    return extend_schema(
        summary=summary,
        request=request,
        responses={200: TrainDetailSerializer, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
    )


@extend_schema_view(
    list=extend_schema(summary="Release trains, newest first"),
    retrieve=extend_schema(
        summary="A train with its members, plan (waves), approvals, history and your actions",
        responses={200: TrainDetailSerializer, 404: NOT_FOUND},
    ),
)
class TrainViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Release trains. Everybody signed in reads; the services decide who may write."""

    permission_classes = [permissions.api_rule(permissions.can_read)]
    serializer_class = TrainListSerializer

    def get_queryset(self):
        return selectors.train_list()

    def get_serializer_class(self):
        return TrainListSerializer if self.action == "list" else TrainDetailSerializer

    def retrieve(self, request, pk=None):
        return Response(self._detail(pk))

    @extend_schema(
        summary="Request a train: one release per member (and optionally submit it)",
        description=(
            "2 to 200 members, one environment, each service once. A cycle among the members' "
            "dependencies is a 400 on `members` naming it. Nothing is created when any member "
            "is refused."
        ),
        request=TrainCreateSerializer,
        responses={
            201: TrainDetailSerializer,
            400: REFUSED,
            403: FORBIDDEN,
            409: idempotency.KEY_IN_FLIGHT,
            422: idempotency.KEY_REUSED,
        },
        parameters=[idempotency.SCHEMA_PARAMETER],
    )
    @idempotency.idempotent
    def create(self, request, *args, **kwargs):
        # Who may request trains at all is answered before the body is read.
        permissions.require(
            may_request_trains(request.user),
            "Only developers of a team and platform admins request trains.",
        )
        body = TrainCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        arguments, submit = body.service_arguments()
        train = services.train_request(actor=request.user, submit=submit, **arguments)
        return Response(self._detail(train.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The waves a train of these members would roll out in (writes nothing)",
        request=TrainPlanSerializer,
        responses={200: WavesSerializer, 400: REFUSED},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def plan(self, request):
        body = TrainPlanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        waves = services.train_plan(
            environment_name=body.validated_data["environment"],
            members=body.member_arguments(),
        )
        return Response({"waves": waves})

    @_action_schema("Submit a draft train for approval", request=None)
    @action(detail=True, methods=["post"], filter_backends=[])
    def submit(self, request, pk=None):
        services.train_submit(actor=request.user, train=self._train(pk))
        return Response(self._detail(pk))

    @_action_schema(
        "Approve a train under the union of its members' policies", TrainDecisionSerializer
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def approve(self, request, pk=None):
        train = self._train(pk)
        body = TrainDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.train_approve(actor=request.user, train=train, **body.validated_data)
        return Response(self._detail(pk))

    @_action_schema("Reject a train, saying why; its members are cancelled", TrainRejectSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reject(self, request, pk=None):
        train = self._train(pk)
        body = TrainRejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.train_reject(actor=request.user, train=train, **body.validated_data)
        return Response(self._detail(pk))

    @_action_schema("Cancel a train and every member not yet finished", TrainCancelSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request, pk=None):
        train = self._train(pk)
        body = TrainCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.train_cancel(actor=request.user, train=train, **body.validated_data)
        return Response(self._detail(pk))

    @_action_schema("Start an approved train now: its first wave rolls out", request=None)
    @action(detail=True, methods=["post"], filter_backends=[])
    def start(self, request, pk=None):
        services.train_start(actor=request.user, train=self._train(pk))
        return Response(self._detail(pk))

    @_action_schema(
        "Roll a halted train back: its succeeded members, last wave first", TrainCancelSerializer
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def rollback(self, request, pk=None):
        train = self._train(pk)
        body = TrainCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.train_rollback(actor=request.user, train=train, **body.validated_data)
        return Response(self._detail(pk))

    @extend_schema(
        summary="Promote a train that succeeded to the next environment, as a new train",
        description=(
            "The same members, versions and commits, asked of the next environment in the "
            "catalog's order as a new train (a draft, or submitted with `submit`: it goes "
            "through its own policies). Each member's soak in this environment must be over "
            "unless `emergency` with a `justification`. 400 names why (not succeeded, no next "
            "environment, a member's soak with the time left, a version marked bad, a pin); "
            "409 when it was promoted already."
        ),
        request=TrainPromoteSerializer,
        responses={
            201: TrainDetailSerializer,
            400: REFUSED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Promoted already: the body names the train."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def promote(self, request, pk=None):
        train = self._train(pk)
        body = TrainPromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        promoted = promotion.train_promote(actor=request.user, train=train, **body.validated_data)
        return Response(self._detail(promoted.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The train's evidence as one ZIP: its plan, union policy, decisions, history "
        "and audit events, and every member's evidence pack with its rollouts",
        responses={(200, "application/zip"): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def evidence(self, request, pk=None):
        train = permissions.get_visible_or_404(selectors.train_detail_queryset(), pk=pk)
        response = HttpResponse(train_evidence_zip(train), content_type="application/zip")
        response["Content-Disposition"] = (
            f'attachment; filename="{train_evidence_file_name(train)}"'
        )
        return response

    def _train(self, pk) -> Train:
        return permissions.get_visible_or_404(Train.objects.all(), pk=pk)

    def _detail(self, pk) -> dict:
        train = permissions.get_visible_or_404(selectors.train_detail_queryset(), pk=pk)
        selectors.with_decision_state(train, self.request.user)
        return TrainDetailSerializer(train, context=self.get_serializer_context()).data

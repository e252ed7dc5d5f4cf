"""The rollouts and clusters API. Every write goes through the same service function as the web
pages, so the API applies exactly the browser's rules."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import permissions
from apps.catalog import services as catalog_services
from apps.catalog.models import Cluster, Environment
from apps.rollouts import kube, rings, selectors, services
from apps.rollouts.api.serializers import (
    ClusterInputSerializer,
    ClusterSerializer,
    PromoteSerializer,
    ReasonSerializer,
    RingSerializer,
    RingsInputSerializer,
    RingsSerializer,
    RolloutCreateSerializer,
    RolloutDetailSerializer,
    RolloutListSerializer,
)
from apps.rollouts.filters import RolloutFilter
from apps.rollouts.models import Rollout

REFUSED = OpenApiResponse(description="Refused: the body names the field and says why.")
FORBIDDEN = OpenApiResponse(description="Your role or team may not do this.")
NOT_FOUND = OpenApiResponse(description="No rollout with this id.")
CONFLICT = OpenApiResponse(description="It has happened already, or something else is active.")
RINGS_NOT_FOUND = OpenApiResponse(description="No such service or environment.")


def _action_schema(summary: str, request, *, description: str | None = None, created=False):
    ok = {201: RolloutDetailSerializer} if created else {200: RolloutDetailSerializer}
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={**ok, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )


@extend_schema_view(
    list=extend_schema(
        summary="Rollouts, active first, then newest, filtered like the rollouts page"
    ),
    retrieve=extend_schema(
        summary="A rollout with its steps (and their analysis measurements) and events",
        responses={200: RolloutDetailSerializer, 404: NOT_FOUND},
    ),
)
class RolloutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Rollouts of releases. Everybody signed in reads; the owning team, release managers and
    platform admins steer (the services decide)."""

    permission_classes = [permissions.api_rule(permissions.can_read)]
    filterset_class = RolloutFilter
    serializer_class = RolloutListSerializer

    def get_queryset(self):
        if self.action == "list":
            return selectors.rollout_list_active_first()
        return selectors.rollout_history_queryset()

    def get_serializer_class(self):
        return RolloutListSerializer if self.action == "list" else RolloutDetailSerializer

    @extend_schema(
        summary="Roll out an approved release now",
        description=(
            "The release's gates are checked again first. A release rolls out once: starting "
            "one that has started (even at the same moment) answers 409 naming its rollout."
        ),
        request=RolloutCreateSerializer,
        responses={
            201: RolloutDetailSerializer,
            400: REFUSED,
            403: FORBIDDEN,
            409: CONFLICT,
        },
    )
    def create(self, request, *args, **kwargs):
        body = RolloutCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rollout = services.rollout_start(actor=request.user, release=body.validated_data["release"])
        return Response(self._detail(rollout.pk), status=status.HTTP_201_CREATED)

    @_action_schema(
        "Promote past the current pause or analysis, or (full) all the way",
        request=PromoteSerializer,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def promote(self, request, pk=None):
        body = PromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.rollout_promote(
            actor=request.user, rollout=self._rollout(pk), **body.validated_data
        )
        return Response(self._detail(pk))

    @_action_schema("Pause a running rollout", request=None)
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request, pk=None):
        services.rollout_pause(actor=request.user, rollout=self._rollout(pk))
        return Response(self._detail(pk))

    @_action_schema("Resume a paused rollout", request=None)
    @action(detail=True, methods=["post"], filter_backends=[])
    def resume(self, request, pk=None):
        services.rollout_resume(actor=request.user, rollout=self._rollout(pk))
        return Response(self._detail(pk))

    @_action_schema(
        "Abort: weight back to zero, the previous version restored",
        request=ReasonSerializer,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def abort(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.rollout_abort(actor=request.user, rollout=self._rollout(pk), **body.validated_data)
        return Response(self._detail(pk))

    @_action_schema(
        "Roll a succeeded rollout back to the version before it",
        request=ReasonSerializer,
        description="The rollback is a new rollout: the answer is that rollout.",
        created=True,
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def rollback(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rollback = services.rollout_rollback(
            actor=request.user, rollout=self._rollout(pk), **body.validated_data
        )
        return Response(self._detail(rollback.pk), status=status.HTTP_201_CREATED)

    def _rollout(self, pk) -> Rollout:
        return permissions.get_visible_or_404(Rollout.objects.all(), pk=pk)

    def _detail(self, pk) -> dict:
        rollout = permissions.get_visible_or_404(selectors.rollout_history_queryset(), pk=pk)
        return RolloutDetailSerializer(rollout, context=self.get_serializer_context()).data


CLUSTER_NOT_FOUND = OpenApiResponse(description="No cluster with this name.")


@extend_schema_view(
    list=extend_schema(summary="Kubernetes clusters that environments deploy to"),
    retrieve=extend_schema(
        summary="A cluster", responses={200: ClusterSerializer, 404: CLUSTER_NOT_FOUND}
    ),
    create=extend_schema(
        summary="Register a cluster",
        description=(
            "Runway first asks the cluster's API server for its version, the way rollouts will "
            "reach it: a kubeconfig it cannot use, an unknown context or a server that does not "
            "answer is refused naming the field. The version comes back as server_version; "
            "changing kubeconfig_path, context or in_cluster checks again."
        ),
        request=ClusterInputSerializer,
        responses={201: ClusterSerializer, 400: REFUSED, 403: FORBIDDEN},
    ),
    update=extend_schema(
        summary="Change a cluster",
        request=ClusterInputSerializer,
        responses={200: ClusterSerializer, 400: REFUSED, 403: FORBIDDEN, 404: CLUSTER_NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change some of a cluster's fields",
        request=ClusterInputSerializer(partial=True),
        responses={200: ClusterSerializer, 400: REFUSED, 403: FORBIDDEN, 404: CLUSTER_NOT_FOUND},
    ),
)
class ClusterViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Everybody signed in reads; platform admins register and change clusters."""

    # The service's own rule, asked before the body is read: no 400s for those who get a 403.
    permission_classes = [
        permissions.api_rule(permissions.is_platform_admin, safe_rule=permissions.can_read)
    ]
    serializer_class = ClusterSerializer
    queryset = Cluster.objects.order_by("name")
    lookup_field = "name"
    lookup_value_regex = "[a-z0-9-]+"

    def create(self, request, *args, **kwargs):
        body = ClusterInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cluster = catalog_services.cluster_create(
            actor=request.user,
            check_connection=kube.cluster_server_version,
            **body.validated_data,
        )
        return Response(ClusterSerializer(cluster).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        cluster = self.get_object()
        body = ClusterInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        body.is_valid(raise_exception=True)
        cluster = catalog_services.cluster_update(
            actor=request.user,
            cluster=cluster,
            check_connection=kube.cluster_server_version,
            **body.validated_data,
        )
        return Response(ClusterSerializer(cluster).data)


class EnvironmentRingsView(APIView):
    """An environment's rings: everybody signed in reads them; the service's owning team and
    platform admins set them (the service decides)."""

    permission_classes = [permissions.api_rule(permissions.can_read)]

    def _environment(self, service: str, environment: str) -> Environment:
        return permissions.get_visible_or_404(
            Environment.objects.select_related("service"), service__name=service, name=environment
        )

    @extend_schema(
        summary="An environment's rings, in the order they roll out",
        responses={200: RingsSerializer, 404: RINGS_NOT_FOUND},
    )
    def get(self, request, service: str, environment: str):
        rings_ = rings.environment_rings(self._environment(service, environment))
        return Response({"rings": RingSerializer(rings_, many=True).data})

    @extend_schema(
        summary="Set an environment's rings",
        description=(
            "Replaces the rings by the list given, in order: ring 0 rolls out first, each next "
            "ring once the one before has succeeded and its soak_seconds have passed. An empty "
            "list: the environment rolls out to its own cluster alone. Refused (409) while a "
            "release to the environment is in progress."
        ),
        request=RingsInputSerializer,
        responses={
            200: RingsSerializer,
            400: REFUSED,
            403: FORBIDDEN,
            404: RINGS_NOT_FOUND,
            409: CONFLICT,
        },
    )
    def put(self, request, service: str, environment: str):
        target = self._environment(service, environment)
        # Who may, before the body is read: no 400s for those who get a 403.
        permissions.require(
            permissions.can_act_for_team(request.user, target.service.owner_id), rings.EDITORS_ONLY
        )
        body = RingsInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = rings.environment_rings_set(
            actor=request.user, environment=target, rings=body.validated_data["rings"]
        )
        return Response({"rings": RingSerializer(saved, many=True).data})

"""One environment of a service: read it, or change its delivery settings (replicas, soak,
auto-promotion, cluster) through apps/catalog/environments.py, as the environment's edit page
does. Its name, namespace, order and kind stay as they were made: they name what already runs."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from apps.accounts import permissions
from apps.catalog import selectors
from apps.catalog.api.serializers import EnvironmentSerializer
from apps.catalog.environments import environment_update
from apps.catalog.models import MAX_SOAK_SECONDS, Cluster, Environment
from apps.core.serializers import ChangesSerializer

EDITORS_ONLY = "Only the owning team and platform admins change a service."
ACTIVE_ROLLOUT = OpenApiResponse(
    description="A rollout to the environment is active: its cluster and replicas change once "
    "it has finished (the answer names the rollout)."
)


class EnvironmentUpdateSerializer(ChangesSerializer):
    """Any of the fields; what is not sent stays as it is."""

    replicas = serializers.IntegerField(min_value=1, max_value=100, required=False)
    soak_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SOAK_SECONDS,
        required=False,
        help_text="How long a version runs here without a failure before it may be promoted.",
    )
    auto_promote = serializers.BooleanField(
        required=False,
        help_text="Runway asks the next environment for a version that succeeded and soaked here.",
    )
    cluster = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Cluster.objects.all(),
        required=False,
        allow_null=True,
        help_text="The name of a registered cluster; null for Runway's default.",
    )


class EnvironmentDetailView(generics.GenericAPIView):
    """A service's environment. Everybody signed in reads; the service's owning team and
    platform admins change it."""

    serializer_class = EnvironmentSerializer

    def get_object(self) -> Environment:
        return get_object_or_404(
            selectors.environment_queryset(),
            service__name=self.kwargs["name"],
            name=self.kwargs["environment"],
        )

    @extend_schema(summary="One environment of the service")
    def get(self, request, name: str, environment: str):
        return Response(EnvironmentSerializer(self.get_object()).data)

    @extend_schema(
        summary="Change the environment's replicas, soak, auto-promotion or cluster",
        request=EnvironmentUpdateSerializer,
        responses={200: EnvironmentSerializer, 409: ACTIVE_ROLLOUT},
    )
    def patch(self, request, name: str, environment: str):
        target = self.get_object()
        # Who may not change it hears so whatever the body says (the service checks it again).
        permissions.require(
            permissions.can_act_for_team(request.user, target.service.owner_id), EDITORS_ONLY
        )
        body = EnvironmentUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = environment_update(actor=request.user, environment=target, **body.validated_data)
        return Response(EnvironmentSerializer(changed).data)

"""The API of held versions: what runs in each of a service's environments (with its pin and
soak), marking a version bad, pinning an environment and lifting the pin. The same services and
rules as the service page's Versions panel."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import permissions
from apps.catalog.models import Environment, Service
from apps.core.http import signed_in_user
from apps.releases.models import BadVersion, VersionPin
from apps.releases.versions import services, transitions
from apps.releases.versions.selectors import service_versions

CONFLICT = OpenApiResponse(description="Already marked bad, already pinned.")


class BadVersionSerializer(serializers.ModelSerializer):
    marked_by = serializers.CharField(source="marked_by.username", read_only=True)

    class Meta:
        model = BadVersion
        fields = ["version", "reason", "marked_by", "marked_at"]
        read_only_fields = ["marked_at"]


class PinSerializer(serializers.ModelSerializer):
    pinned_by = serializers.CharField(source="pinned_by.username", read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta:
        model = VersionPin
        fields = ["id", "version", "reason", "pinned_by", "pinned_at", "actions"]
        read_only_fields = ["id", "pinned_at"]

    def get_actions(self, pin) -> list[str]:
        return sorted(transitions.available_actions(pin, self.context["request"].user))


class EnvironmentVersionSerializer(serializers.Serializer):
    environment = serializers.CharField(source="environment.name")
    soak_seconds = serializers.IntegerField(source="environment.soak_seconds")
    running = serializers.CharField(allow_null=True)
    healthy_since = serializers.DateTimeField(allow_null=True)
    soaked_at = serializers.DateTimeField(allow_null=True)
    pin = PinSerializer(allow_null=True)
    running_is_bad = serializers.SerializerMethodField()

    def get_running_is_bad(self, row) -> bool:
        return row.bad is not None


class ServiceVersionsSerializer(serializers.Serializer):
    environments = EnvironmentVersionSerializer(many=True)
    bad_versions = BadVersionSerializer(many=True)


class LiftSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the pin goes; required.")


def _service(name: str) -> Service:
    return get_object_or_404(Service.objects.select_related("owner"), name=name)


def _require_holder(request, service: Service) -> None:
    """The services' own rule, asked before the body is read: no 400s for those who get a 403."""
    permissions.require(permissions.can_hold_versions(request.user, service), transitions.REFUSED)


class ServiceVersionsView(APIView):
    permission_classes = [permissions.api_rule(permissions.can_read)]

    @extend_schema(responses=ServiceVersionsSerializer)
    def get(self, request, name: str):
        """What runs in each environment (since when unbroken, when its soak is over), the pin
        in force there, and the versions marked bad."""
        versions = service_versions(_service(name))
        return Response(ServiceVersionsSerializer(versions, context={"request": request}).data)


class BadVersionCreateView(APIView):
    permission_classes = [permissions.api_rule(permissions.can_read)]

    @extend_schema(
        request=BadVersionSerializer, responses={201: BadVersionSerializer, 409: CONFLICT}
    )
    def post(self, request, name: str):
        """Never release this version again: its requests are refused and its releases held."""
        service = _service(name)
        _require_holder(request, service)
        body = BadVersionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bad = services.version_mark_bad(
            actor=signed_in_user(request), service=service, **body.validated_data
        )
        return Response(BadVersionSerializer(bad).data, status=status.HTTP_201_CREATED)


class PinCreateView(APIView):
    permission_classes = [permissions.api_rule(permissions.can_read)]

    @extend_schema(request=PinSerializer, responses={201: PinSerializer, 409: CONFLICT})
    def post(self, request, name: str, environment: str):
        """Hold the environment at a version: releases of any other wait for the pin to go."""
        target = get_object_or_404(
            Environment.objects.select_related("service__owner"),
            service__name=name,
            name=environment,
        )
        _require_holder(request, target.service)
        body = PinSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        pin = services.version_pin(
            actor=signed_in_user(request), environment=target, **body.validated_data
        )
        return Response(
            PinSerializer(pin, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class PinLiftView(APIView):
    permission_classes = [permissions.api_rule(permissions.can_read)]

    @extend_schema(request=LiftSerializer, responses=PinSerializer)
    def post(self, request, pk: int):
        """Lift the pin, saying why."""
        pin = get_object_or_404(VersionPin.objects.select_related("environment__service"), pk=pk)
        _require_holder(request, pin.environment.service)
        body = LiftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pin = services.version_unpin(
            actor=signed_in_user(request), pin=pin, reason=body.validated_data["reason"]
        )
        return Response(PinSerializer(pin, context={"request": request}).data)

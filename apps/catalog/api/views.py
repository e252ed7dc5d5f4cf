from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.catalog import selectors, services
from apps.catalog.api.export import export_response
from apps.catalog.api.serializers import (
    DependenciesWriteSerializer,
    DependencyGraphSerializer,
    FacetsSerializer,
    ServiceDetailSerializer,
    ServiceListSerializer,
    ServiceWriteSerializer,
    SystemSerializer,
    TemplateSerializer,
)
from apps.catalog.filters import ServiceFilter
from apps.catalog.models import GoldenPathTemplate, System
from apps.core.http import signed_in_user

# _set_dependencies: a service it is to depend on was deleted while the request waited for it.
CONFLICT = OpenApiResponse(description="Something it depends on was deleted meanwhile.")


class ServiceViewSet(viewsets.ModelViewSet):
    """The service catalog. Everybody signed in reads; the owning team and platform admins
    write; platform admins delete. Same rules and validation as the web pages."""

    lookup_field = "name"
    lookup_value_regex = "[a-z0-9-]+"
    filterset_class = ServiceFilter

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.service_detail_with_tag_names()
        if self.action == "list":
            return selectors.service_list_rows()
        return selectors.service_list()

    def filter_queryset(self, queryset):
        # One service by name: without a query string the catalog's filters select nothing
        # away, and building them cost a good part of the read.
        if self.action == "retrieve" and not self.request.query_params:
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return ServiceWriteSerializer
        return ServiceDetailSerializer if self.action == "retrieve" else ServiceListSerializer

    @extend_schema(responses={201: ServiceDetailSerializer, 409: CONFLICT})
    def create(self, request, *args, **kwargs):
        serializer = ServiceWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        service = services.service_create(actor=request.user, **data)
        return Response(self._detail(service), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ServiceDetailSerializer, 409: CONFLICT})
    def update(self, request, *args, **kwargs):
        service = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = ServiceWriteSerializer(service, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("name", None)  # a service's name is its identity everywhere; it does not change
        data.pop("environments", None)
        service = services.service_update(actor=request.user, service=service, **data)
        return Response(self._detail(service))

    def destroy(self, request, *args, **kwargs):
        services.service_delete(actor=request.user, service=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[OpenApiParameter("depth", int, description="1 to 5 levels (default 3)")],
        responses=DependencyGraphSerializer,
        methods=["GET"],
    )
    @extend_schema(
        parameters=[OpenApiParameter("depth", int, description="1 to 5 levels (default 3)")],
        responses={200: DependencyGraphSerializer, 409: CONFLICT},
        request=DependenciesWriteSerializer,
        methods=["PUT"],
    )
    @action(detail=True, methods=["get", "put"])
    def dependencies(self, request, name=None):
        """Upstream (what it depends on) and downstream (what depends on it), cycle-safe.
        PUT replaces the services it depends on."""
        service = get_object_or_404(selectors.service_list(), name=name)
        if request.method == "PUT":
            body = DependenciesWriteSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            services.service_dependencies_set(
                actor=request.user, service=service, services=body.validated_data["services"]
            )
        depth = request.query_params.get("depth", "3")
        depth = min(max(int(depth), 1), 5) if depth.isdigit() else 3
        graph = selectors.dependency_graph(service, max_depth=depth)
        return Response(DependencyGraphSerializer(graph).data)

    @extend_schema(
        responses={(200, "application/x-ndjson"): ServiceListSerializer(many=True)},
        description="Every service the filters select, one JSON object per line, streamed; "
        "gzip-compressed when the client accepts it.",
    )
    # Not paginated: every matching service, streamed.
    @action(detail=False, url_path="export", pagination_class=None)
    def export(self, request):
        """All of the catalog in one response, as newline-delimited JSON."""
        return export_response(request, self.filter_queryset(selectors.service_list()))

    @extend_schema(responses=FacetsSerializer, filters=True)
    @action(detail=False)
    def facets(self, request):
        """Counts per team, lifecycle, tier, type and strategy over the filtered services."""
        queryset = self.filter_queryset(selectors.service_list())
        return Response(selectors.service_facets(queryset))

    def _detail(self, service):
        # A delete may commit between the write and this read: the service is gone, a 404.
        fresh = get_object_or_404(selectors.service_detail_with_tag_names(), pk=service.pk)
        return ServiceDetailSerializer(fresh, context=self.get_serializer_context()).data


class SystemViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = SystemSerializer
    lookup_field = "name"
    queryset = System.objects.select_related("owner").order_by("name")
    filterset_fields = ["owner__slug"]

    def perform_create(self, serializer):
        serializer.instance = services.system_create(
            actor=signed_in_user(self.request), **serializer.validated_data
        )


class TemplateViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Golden-path templates. Creating one with an existing name adds its next version."""

    serializer_class = TemplateSerializer
    queryset = GoldenPathTemplate.objects.order_by("name", "-version")
    filterset_fields = ["name"]

    def perform_create(self, serializer):
        serializer.instance = services.template_create(
            actor=signed_in_user(self.request), **serializer.validated_data
        )

    @extend_schema(
        request=None,
        responses={200: TemplateSerializer},
        summary="Make this version the golden path new services start from",
    )
    @action(detail=True, methods=["post"], url_path="make-default", filter_backends=[])
    def make_default(self, request, pk=None):
        template = services.template_make_default(actor=request.user, template=self.get_object())
        return Response(TemplateSerializer(template).data)

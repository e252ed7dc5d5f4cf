from typing import Any

from rest_framework import serializers

from apps.accounts.models import Team
from apps.catalog import selectors
from apps.catalog.models import (
    Cluster,
    Environment,
    EnvironmentKind,
    GoldenPathTemplate,
    Service,
    System,
)


class SystemSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = System
        fields = ["id", "name", "title", "description", "owner"]


class TemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = GoldenPathTemplate
        fields = [
            "id", "name", "version", "title", "description", "language", "container_port",
            "health_path", "cpu", "memory", "strategy", "strategy_params", "is_default",
            "required_gates", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "version", "created_at"]
        extra_kwargs = {
            "is_default": {
                "help_text": "Make this version the golden path new services start from; the "
                "version that was the default stops being it."
            },
            "strategy_params": {
                "help_text": "As a service's: a canary's steps, a verification gate (analysis)."
            },
        }


class EnvironmentSerializer(serializers.ModelSerializer):
    cluster = serializers.SlugRelatedField(
        slug_field="name", queryset=Cluster.objects.all(), required=False, allow_null=True
    )
    kind = serializers.ChoiceField(choices=EnvironmentKind.choices)

    class Meta:
        model = Environment
        fields = [
            "name", "kind", "order", "cluster", "namespace", "replicas", "soak_seconds",
            "auto_promote",
        ]  # fmt: skip
        read_only_fields = ["order"]
        extra_kwargs = {
            "namespace": {"required": False},
            "replicas": {"required": False},
            "soak_seconds": {"required": False},
            "auto_promote": {"required": False},
        }


class ServiceListSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.slug", read_only=True)
    system = serializers.CharField(
        source="system.name", read_only=True, allow_null=True, default=None
    )
    # "name vN", or null: a source of template.__str__ gave a service without a template the
    # text of None's method wrapper.
    template: "serializers.StringRelatedField[GoldenPathTemplate]" = serializers.StringRelatedField(
        read_only=True, allow_null=True
    )
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Service
        fields = [
            "name", "title", "description", "owner", "system", "type", "lifecycle", "tier",
            "language", "repository_url", "strategy", "template", "tags", "updated_at",
        ]  # fmt: skip

    def get_tags(self, service) -> list[str]:
        return selectors.service_tag_names(service)


class ServiceDetailSerializer(ServiceListSerializer):
    environments = EnvironmentSerializer(many=True, read_only=True)
    pipeline_template = serializers.SerializerMethodField(
        help_text="The pipeline template its CI last reported, <name>@<version> (null: none)."
    )

    class Meta(ServiceListSerializer.Meta):
        fields = [
            *ServiceListSerializer.Meta.fields, "runbook_url", "on_call", "links", "image",
            "container_port", "replicas", "cpu", "memory", "health_path", "autoscale_max",
            "pdb_min_available", "strategy_params", "environments", "annotations", "extra",
            "manifests", "pipeline_template", "pipeline_reported_at", "created_at",
        ]  # fmt: skip

    def get_pipeline_template(self, service) -> str | None:
        if not service.pipeline_template:
            return None
        return f"{service.pipeline_template}@{service.pipeline_template_version}"


class ServiceWriteSerializer(serializers.ModelSerializer):
    """Input for create and update. Validation of the whole service happens in the service
    layer, the same as for the wizard and the edit form."""

    owner = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    system = serializers.SlugRelatedField(
        slug_field="name", queryset=System.objects.all(), required=False, allow_null=True
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=GoldenPathTemplate.objects.all(), required=False, allow_null=True
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=63), required=False)
    environments = EnvironmentSerializer(many=True, required=False)
    depends_on = serializers.SlugRelatedField(
        slug_field="name", queryset=Service.objects.all(), many=True, required=False
    )

    class Meta:
        model = Service
        fields = [
            "name", "title", "description", "owner", "system", "type", "lifecycle", "tier",
            "language", "repository_url", "runbook_url", "on_call", "links", "image",
            "container_port", "replicas", "cpu", "memory", "health_path", "autoscale_max",
            "pdb_min_available", "strategy", "strategy_params", "template", "tags",
            "environments", "depends_on",
        ]  # fmt: skip
        # Uniqueness and formats are checked by the service layer, once, for every entry point.
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}


class DependencyNodeSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["service", "resource"])
    depth = serializers.IntegerField()
    title = serializers.CharField()
    owner = serializers.CharField()


class DependencyGraphSerializer(serializers.Serializer):
    upstream = DependencyNodeSerializer(many=True)
    downstream = DependencyNodeSerializer(many=True)
    truncated = serializers.BooleanField()


class DependenciesWriteSerializer(serializers.Serializer):
    services = serializers.SlugRelatedField(
        slug_field="name", queryset=Service.objects.all(), many=True
    )


class FacetValueSerializer(serializers.Serializer):
    value: serializers.Field = serializers.CharField()
    # The stubs see Field.label (DRF moves declared fields off the class): same below for
    # `source` and `errors`.
    label = serializers.CharField()  # type: ignore[assignment]
    count = serializers.IntegerField()


class TierFacetValueSerializer(FacetValueSerializer):
    value = serializers.IntegerField(help_text="The tier, 1 (most critical) to 3.")


class FacetsSerializer(serializers.Serializer):
    owner = FacetValueSerializer(many=True)
    lifecycle = FacetValueSerializer(many=True)
    tier = TierFacetValueSerializer(many=True)
    type = FacetValueSerializer(many=True)
    strategy = FacetValueSerializer(many=True)

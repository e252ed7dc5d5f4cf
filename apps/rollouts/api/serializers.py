"""Input and output shapes of the rollouts and clusters API. Inputs are checked for shape here;
every rule (who may steer, what a state allows) is the services'."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.models import MAX_SOAK_SECONDS, Cluster
from apps.releases.api.serializers import EvidenceAuditEventSerializer
from apps.releases.models import Release
from apps.rollouts.models import (
    MAX_RINGS,
    Ring,
    Rollout,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    StepState,
)
from apps.rollouts.transitions import available_actions

# --- Rollouts: output ------------------------------------------------------------------------


def _choices_help(choices) -> str:
    return "One of: " + ", ".join(str(value) for value, _ in choices) + "."


class RolloutListSerializer(serializers.ModelSerializer):
    # States are documented as strings listing their values: "state" already names the
    # releases' enum in the schema.
    state = serializers.CharField(read_only=True, help_text=_choices_help(RolloutState.choices))
    service = serializers.CharField(source="service.name", read_only=True)
    team = serializers.CharField(source="service.owner.slug", read_only=True)
    environment = serializers.CharField(source="environment.name", read_only=True)
    cluster = serializers.CharField(
        source="cluster.name", read_only=True, allow_null=True, default=None
    )
    release = serializers.IntegerField(source="release_id", read_only=True)
    rolls_back = serializers.IntegerField(
        source="rolls_back_id",
        read_only=True,
        allow_null=True,
        help_text="For a rollback: the rollout it rolls back.",
    )
    progress = serializers.IntegerField(read_only=True, help_text="Per cent of steps done.")
    started_by = serializers.CharField(
        source="started_by.username",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Null when Runway started it (a due release).",
    )

    ring = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="An environment with rings: the ring this rollout is for (0 rolls out first).",
    )

    class Meta:
        model = Rollout
        fields = [
            "id", "release", "service", "team", "environment", "cluster", "ring", "namespace",
            "strategy", "image", "state", "current_step", "weight", "replicas", "progress",
            "is_rollback", "rolls_back", "failure_reason", "started_by", "created_at",
            "started_at", "finished_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class MeasurementSerializer(serializers.Serializer):
    phase = serializers.CharField(help_text="successful, failed or inconclusive")
    value = serializers.CharField()
    at = serializers.DateTimeField()


class RolloutStepSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True, help_text=_choices_help(StepState.choices))
    params = serializers.DictField(read_only=True)
    results = MeasurementSerializer(
        many=True, read_only=True, help_text="Analysis steps: each measurement taken."
    )

    class Meta:
        model = RolloutStep
        fields = [
            "index", "kind", "params", "state", "message", "attempts", "results", "started_at",
            "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class RolloutEventSerializer(serializers.ModelSerializer):
    # Plain strings: "state" already names the releases' enum in the schema.
    kind = serializers.CharField(read_only=True, help_text="transition or step")
    from_state = serializers.CharField(read_only=True, help_text="Transitions: the state left.")
    to_state = serializers.CharField(read_only=True, help_text="Transitions: the state entered.")

    class Meta:
        model = RolloutEvent
        fields = ["at", "kind", "level", "step_index", "from_state", "to_state", "message"]
        read_only_fields = fields


class CanaryPodsSerializer(serializers.Serializer):
    canary = serializers.IntegerField()
    stable = serializers.IntegerField()
    share = serializers.IntegerField(help_text="Per cent of all pods that run the canary.")


class RolloutDetailSerializer(RolloutListSerializer):
    steps = RolloutStepSerializer(many=True, read_only=True)
    events = RolloutEventSerializer(many=True, read_only=True, help_text="Oldest first.")
    actions = serializers.SerializerMethodField(
        help_text="What the requesting user may do now: promote, promote_full, pause, resume, "
        "abort, rollback."
    )
    canary_pods = serializers.SerializerMethodField(
        help_text="Canary rollouts: the planned canary and stable pods at the current weight "
        "and the canary's share of all pods, which with few replicas differs from the weight."
    )

    class Meta(RolloutListSerializer.Meta):
        fields = [
            *RolloutListSerializer.Meta.fields, "previous_image", "manual_interventions",
            "failure_detected_at", "next_run_at", "next_ring_at", "actions", "canary_pods",
            "steps", "events",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, rollout) -> list[str]:
        request = self.context.get("request")
        return sorted(available_actions(rollout, request.user if request else None))

    @extend_schema_field(CanaryPodsSerializer(allow_null=True))
    def get_canary_pods(self, rollout) -> dict | None:
        return rollout.canary_pods


# --- The rollout record in a release's evidence (apps/rollouts/evidence.py) ------------------


class EvidenceAnalysisSerializer(serializers.Serializer):
    template = serializers.CharField()
    missing = serializers.BooleanField(help_text="The template no longer exists.")
    kind = serializers.CharField(required=False, help_text="http or prometheus")
    measures = serializers.CharField(required=False, help_text="The PromQL query, if any.")
    url = serializers.CharField(required=False)
    success_condition = serializers.CharField(required=False)
    count = serializers.IntegerField(required=False)
    interval_seconds = serializers.IntegerField(required=False)
    failure_limit = serializers.IntegerField(required=False)
    inconclusive_limit = serializers.IntegerField(required=False)


class EvidenceRolloutStepSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    kind = serializers.CharField()
    params = serializers.DictField()
    state = serializers.CharField(help_text=_choices_help(StepState.choices))
    message = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    analysis = EvidenceAnalysisSerializer(
        allow_null=True, help_text="Verification steps: what was measured and what passed."
    )
    results = MeasurementSerializer(many=True, help_text="Each measurement taken.")


class EvidenceSteeringSerializer(serializers.Serializer):
    action = serializers.CharField(
        help_text="started, paused, resumed, promoted, aborted or rolled back"
    )
    by = serializers.CharField(help_text="“runway” when Runway itself did it.")
    at = serializers.DateTimeField()
    reason = serializers.CharField()
    step = serializers.IntegerField(allow_null=True, help_text="The step it was at (0-based).")


class RolloutRecordSerializer(serializers.Serializer):
    """Documents `apps.rollouts.evidence.rollout_records`: one rollout of the release."""

    id = serializers.IntegerField()
    strategy = serializers.CharField()
    image = serializers.CharField()
    previous_image = serializers.CharField()
    namespace = serializers.CharField()
    cluster = serializers.CharField(allow_null=True)
    state = serializers.CharField(help_text=_choices_help(RolloutState.choices))
    is_rollback = serializers.BooleanField()
    rolls_back = serializers.IntegerField(allow_null=True)
    started_by = serializers.CharField(help_text="“runway” when Runway started it when due.")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    failure_reason = serializers.CharField()
    manual_interventions = serializers.IntegerField()
    steps = EvidenceRolloutStepSerializer(many=True)
    steering = EvidenceSteeringSerializer(many=True, help_text="Who steered it and when.")
    audit_events = EvidenceAuditEventSerializer(many=True, help_text="The rollout's own.")


# --- Rollouts: input ---------------------------------------------------------------------------


class RolloutCreateSerializer(serializers.Serializer):
    release = serializers.PrimaryKeyRelatedField(
        queryset=Release.objects.all(),
        help_text="An approved (scheduled or in progress) release; its gates are checked again.",
        error_messages={"does_not_exist": "No release has the id {pk_value}."},
    )


class PromoteSerializer(serializers.Serializer):
    full = serializers.BooleanField(
        default=False,
        help_text="Skip every remaining weight, pause and analysis step and promote at once.",
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


# --- Clusters ----------------------------------------------------------------------------------


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cluster
        fields = [
            "id", "name", "description", "kubeconfig_path", "context", "in_cluster",
            "server_version",
        ]  # fmt: skip
        read_only_fields = fields


class ClusterInputSerializer(serializers.Serializer):
    """Shape only: the service validates the cluster in full (unique name, DNS label, paths,
    and a connection to its API server)."""

    name = serializers.CharField(max_length=63)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    kubeconfig_path = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Absolute path on Runway's servers; empty: Runway's default kubeconfig.",
    )
    context = serializers.CharField(  # type: ignore[assignment]  # a field, not Field.context
        max_length=200, required=False, allow_blank=True, default=""
    )
    in_cluster = serializers.BooleanField(
        required=False, default=False, help_text="Runway runs inside this cluster."
    )


# --- Rings -------------------------------------------------------------------------------------


class RingSerializer(serializers.ModelSerializer):
    cluster: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )

    class Meta:
        model = Ring
        fields = ["position", "cluster", "soak_seconds"]
        read_only_fields = fields


class RingsSerializer(serializers.Serializer):
    rings = RingSerializer(many=True, read_only=True, help_text="In order: ring 0 rolls out first.")


class RingInputSerializer(serializers.Serializer):
    cluster = serializers.SlugRelatedField(
        slug_field="name", queryset=Cluster.objects.all(), help_text="A registered cluster's name."
    )
    soak_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SOAK_SECONDS,
        required=False,
        default=0,
        help_text="How long this ring runs healthy before the next ring starts.",
    )


class RingsInputSerializer(serializers.Serializer):
    """Shape only: the service checks the rest (a cluster listed twice, the environment busy)."""

    rings = serializers.ListField(
        child=RingInputSerializer(),
        max_length=MAX_RINGS,
        help_text="In order: ring 0 rolls out first.",
    )

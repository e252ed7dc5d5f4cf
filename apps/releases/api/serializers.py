"""Input and output shapes of the releases API. Inputs are checked for shape and resolved from
names to rows here; every business rule (windows, policies, who may do what) is the services'."""

from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import Role, Team, User
from apps.catalog.models import Environment, EnvironmentKind, Service
from apps.catalog.pipelines import parse_reference
from apps.core.serializers import ChangesSerializer
from apps.releases import evidence_sections
from apps.releases.calendar.transitions import RuleState, state_of
from apps.releases.calendar.transitions import available_actions as rule_actions
from apps.releases.models import (
    Approval,
    ApprovalPolicy,
    ApprovalRule,
    BreakGlass,
    ChangeType,
    ChangeWindow,
    Freeze,
    Release,
    ReleaseCheck,
    ReleaseCommit,
    ReleaseState,
    ReleaseTransition,
    StandardChangeTemplate,
    WindowScope,
)
from apps.releases.transitions import available_actions


@extend_schema_field(OpenApiTypes.STR)
class PlainChoiceField(serializers.ChoiceField):
    """Validated as a choice, documented as a string listing its values: this choice set
    already has its enum name in the schema under another field's name."""

    def __init__(self, choices, **kwargs):
        values = ", ".join(str(value) for value, _ in choices)
        kwargs.setdefault("help_text", f"One of: {values}.")
        super().__init__(choices, **kwargs)


def _environment_kind_field(help_text: str) -> PlainChoiceField:
    values = ", ".join(EnvironmentKind.values)
    return PlainChoiceField(
        EnvironmentKind.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text=f"{help_text} One of: {values}.",
    )


def _service_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="name",
        queryset=Service.objects.select_related("owner"),
        error_messages={"does_not_exist": "No service is called “{value}”."},
        **kwargs,
    )


def _team_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        error_messages={"does_not_exist": "No team has the slug “{value}”."},
        **kwargs,
    )


def _environment_of(service: Service, name: str) -> Environment:
    """The environment called `name` of `service`, or a ValidationError on `environment`."""
    environment = (
        Environment.objects.select_related("service").filter(service=service, name=name).first()
    )
    if environment is None:
        raise serializers.ValidationError(
            {"environment": f"{service.name} has no environment called “{name}”."}
        )
    return environment


# --- Releases: output ------------------------------------------------------------------------


class ReleaseListSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="service.name", read_only=True)
    team = serializers.CharField(source="service.owner.slug", read_only=True)
    environment = serializers.CharField(source="environment.name", read_only=True)
    environment_kind = serializers.CharField(source="environment.kind", read_only=True)
    requester = serializers.CharField(source="requester.username", read_only=True)

    class Meta:
        model = Release
        fields = [
            "id", "service", "team", "environment", "environment_kind", "version", "title",
            "change_type", "state", "risk", "planned_start", "planned_end", "requester",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class CommitSerializer(serializers.ModelSerializer):
    timestamp = serializers.DateTimeField(source="committed_at")

    class Meta:
        model = ReleaseCommit
        fields = ["sha", "author", "message", "timestamp"]
        extra_kwargs = {"message": {"required": False, "allow_blank": True}}


class LinkSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    url = serializers.URLField(max_length=500)


class PolicyRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApprovalPolicy
        fields = ["id", "name"]


class RuleRefSerializer(serializers.ModelSerializer):
    policy = PolicyRefSerializer(read_only=True)

    class Meta:
        model = ApprovalRule
        fields = ["id", "name", "required_count", "policy"]


class ApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username", read_only=True)
    rule = RuleRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Approval
        fields = [
            "id", "approver", "decision", "rule", "comment", "is_retrospective", "created_at",
            "expires_at", "invalidated_at", "invalidated_reason", "gates", "risks_confirmed",
        ]  # fmt: skip
        read_only_fields = fields


class CheckSerializer(serializers.ModelSerializer):
    reported_by = serializers.CharField(
        source="reported_by.username", read_only=True, allow_null=True, default=None
    )
    # Read-only fields do not take allow_blank from the model: without it, the schema's `uri`
    # format would refuse the empty string a check reported without a link has.
    details_url = serializers.URLField(read_only=True, allow_blank=True)

    class Meta:
        model = ReleaseCheck
        fields = ["name", "status", "details_url", "summary", "reported_by", "reported_at"]
        read_only_fields = fields


class TransitionSerializer(serializers.ModelSerializer):
    from_state = PlainChoiceField(ReleaseState.choices, read_only=True)
    to_state = PlainChoiceField(ReleaseState.choices, read_only=True)
    actor = serializers.CharField(
        source="actor.username",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Null when Runway itself moved the release (the scheduler).",
    )

    class Meta:
        model = ReleaseTransition
        fields = ["from_state", "to_state", "actor", "reason", "at"]
        read_only_fields = fields


class GateSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()
    blocking = serializers.BooleanField(help_text="A failing blocking gate stops the start.")


class RuleStatusSerializer(serializers.Serializer):
    rule = RuleRefSerializer()
    approvers = serializers.ListField(child=serializers.CharField())
    missing = serializers.IntegerField()
    satisfied = serializers.BooleanField()


class ApprovalStatusSerializer(serializers.Serializer):
    required = serializers.BooleanField()  # type: ignore[assignment]  # a field, not Field.required
    satisfied = serializers.BooleanField()
    summary = serializers.CharField()
    rules = RuleStatusSerializer(many=True)


class ConflictSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="release.pk")
    service = serializers.CharField(source="release.service.name")
    environment = serializers.CharField(source="release.environment.name")
    version = serializers.CharField(source="release.version")
    state = serializers.CharField(source="release.state")
    planned_start = serializers.DateTimeField(source="release.planned_start")
    planned_end = serializers.DateTimeField(source="release.planned_end")
    why = serializers.CharField()


class StandardTemplateRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = StandardChangeTemplate
        fields = ["id", "name"]


class BreakGlassSerializer(serializers.ModelSerializer):
    by = serializers.CharField(source="actor.username", read_only=True)

    class Meta:
        model = BreakGlass
        fields = ["by", "at", "reason", "paged"]
        read_only_fields = fields


class ReleaseDetailSerializer(ReleaseListSerializer):
    """A release with everything its page shows. The view attaches `approval_status`, `gates`
    and `conflicts`, evaluated when the request is answered."""

    standard_template = StandardTemplateRefSerializer(read_only=True, allow_null=True)
    risk_reasons = serializers.ListField(child=serializers.CharField(), read_only=True)
    links = LinkSerializer(many=True, read_only=True)
    commits = CommitSerializer(many=True, read_only=True)
    approvals = ApprovalSerializer(many=True, read_only=True)
    checks = CheckSerializer(many=True, read_only=True)
    transitions = TransitionSerializer(many=True, read_only=True)
    approval_status = ApprovalStatusSerializer(read_only=True)
    gates = GateSerializer(
        many=True,
        read_only=True,
        help_text="Readiness, evaluated now for a start at the planned time (or now, if later).",
    )
    conflicts = ConflictSerializer(
        many=True, read_only=True, help_text="Open releases overlapping this one."
    )
    break_glass = BreakGlassSerializer(
        source="glass_broken",
        read_only=True,
        allow_null=True,
        help_text="Who let this emergency start without an independent approval, and why.",
    )
    retrospective_state = serializers.CharField(
        read_only=True, help_text="“due”, “overdue” or “done”; empty when none is asked for."
    )
    actions = serializers.SerializerMethodField(
        help_text="What the caller may do now (submit, cancel, break_glass, approve, reject)."
    )
    promoted_from: "serializers.PrimaryKeyRelatedField[Release]" = (
        serializers.PrimaryKeyRelatedField(
            read_only=True,
            allow_null=True,
            help_text="The release in the previous environment this one promotes, if any.",
        )
    )

    class Meta(ReleaseListSerializer.Meta):
        fields = [
            *ReleaseListSerializer.Meta.fields, "description", "justification",
            "standard_template", "risk_reasons", "links", "submitted_at", "approved_at",
            "started_at", "finished_at", "hold_reason", "retrospective_due_at",
            "retrospective_done_at", "retrospective_state", "break_glass", "commits",
            "approvals", "checks", "transitions", "approval_status", "gates", "conflicts",
            "actions", "promoted_from", "promoted_automatically", "auto_promotion_hold",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_actions(self, release) -> list[str]:
        request = self.context.get("request")
        user = request.user if request else None
        status = getattr(release, "approval_status", None)  # read once by the view
        return sorted(available_actions(release, user, status=status))


# --- Releases: input -------------------------------------------------------------------------


class ReleaseCreateSerializer(serializers.Serializer):
    service = _service_field(help_text="The service's name.")
    environment = serializers.CharField(help_text="The name of one of the service's environments.")
    version = serializers.CharField(max_length=300)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    change_type = serializers.ChoiceField(choices=ChangeType.choices, default=ChangeType.NORMAL)
    standard_template = serializers.PrimaryKeyRelatedField(
        queryset=StandardChangeTemplate.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="Standard changes only: the pre-approved template's id.",
    )
    justification = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Emergency changes only: why it cannot wait for approval.",
    )
    planned_start = serializers.DateTimeField(help_text="ISO 8601, with a UTC offset.")
    planned_end = serializers.DateTimeField(help_text="ISO 8601, with a UTC offset.")
    commits = CommitSerializer(many=True, required=False, default=list)
    links = LinkSerializer(many=True, required=False, default=list)
    submit = serializers.BooleanField(
        default=False, help_text="Submit it right away; if that is refused, nothing is created."
    )
    pipeline_template = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=100,
        help_text="The standard pipeline that asks, `<template>@<version>` (the `runway` command "
        "sends RUNWAY_PIPELINE_TEMPLATE): recorded on the service.",
    )

    def validate_pipeline_template(self, value: str) -> str:
        if value:
            try:
                parse_reference(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict["pipeline_template"]) from None
        return value

    def validate(self, data):
        data["environment"] = _environment_of(data["service"], data["environment"])
        return data

    def service_arguments(self) -> tuple[dict, bool]:
        """Keyword arguments for `release_request`, and whether to submit."""
        data = dict(self.validated_data)
        submit = data.pop("submit")
        data["commits"] = _commit_arguments(data["commits"])
        data["links"] = [dict(link) for link in data["links"]]
        return data, submit


class ReleaseUpdateSerializer(ChangesSerializer):
    """Only the fields sent change. Changing what ships (version, commits, planned times) after
    an approval invalidates the approvals and sends the release back for approval."""

    version = serializers.CharField(max_length=300, required=False)
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    change_type = serializers.ChoiceField(choices=ChangeType.choices, required=False)
    justification = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Emergency changes only: why it cannot wait for approval.",
    )
    planned_start = serializers.DateTimeField(
        required=False, help_text="ISO 8601, with a UTC offset."
    )
    planned_end = serializers.DateTimeField(
        required=False, help_text="ISO 8601, with a UTC offset."
    )
    commits = CommitSerializer(
        many=True, required=False, help_text="Replaces the release's commits when sent."
    )
    links = LinkSerializer(many=True, required=False, help_text="Replaces the links when sent.")

    def service_arguments(self) -> dict:
        """Keyword arguments for `release_update`."""
        data = dict(self.validated_data)
        if "commits" in data:
            data["commits"] = _commit_arguments(data["commits"])
        if "links" in data:
            data["links"] = [dict(link) for link in data["links"]]
        return data


def _commit_arguments(commits: list[dict]) -> list[dict]:
    return [
        {
            "sha": commit["sha"],
            "author": commit["author"],
            "message": commit.get("message", ""),
            "committed_at": commit["committed_at"],
        }
        for commit in commits
    ]


class ApproveSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    confirm_risks = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Approve although gates fail (a freeze, a failing check ...): the refusal "
        "without it names them, and the approval records them.",
    )


class RejectSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Required: say why, the requester needs to know.",
    )


class ReleasePromoteSerializer(serializers.Serializer):
    submit = serializers.BooleanField(
        required=False, default=False, help_text="Submit the new release for approval at once."
    )


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class BreakGlassRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Required: why this cannot wait for an independent approval (20+ characters).",
    )


class CheckReportSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="e.g. tests, security-scan")
    status = serializers.ChoiceField(choices=ReleaseCheck.Status.choices)
    details_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    summary = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class EvidenceReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    service = serializers.CharField()
    environment = serializers.CharField()
    version = serializers.CharField()
    change_type = serializers.CharField()
    risk = serializers.CharField()
    risk_reasons = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField()
    planned_start = serializers.DateTimeField()
    planned_end = serializers.DateTimeField()
    justification = serializers.CharField()


class EvidenceCommitSerializer(serializers.Serializer):
    sha = serializers.CharField()
    author = serializers.CharField()
    message = serializers.CharField()
    committed_at = serializers.DateTimeField()


class EvidenceGateSerializer(serializers.Serializer):
    gate = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()
    blocking = serializers.BooleanField()


class EvidenceApprovalSerializer(serializers.Serializer):
    approver = serializers.CharField()
    decision = serializers.CharField()
    policy = serializers.CharField(allow_null=True)
    rule = serializers.CharField(allow_null=True)
    comment = serializers.CharField()
    at = serializers.DateTimeField()
    retrospective = serializers.BooleanField()
    invalidated = serializers.CharField(allow_null=True, help_text="Why, if it no longer counts.")
    gates = EvidenceGateSerializer(many=True, help_text="The gates as evaluated at the decision.")
    risks_confirmed = serializers.ListField(
        child=serializers.CharField(), help_text="Failing gates the approver confirmed by name."
    )


class EvidenceCheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField()
    summary = serializers.CharField()
    reported_by = serializers.CharField(allow_null=True, help_text="The CI identity that said so.")
    by_service_account = serializers.BooleanField()
    at = serializers.DateTimeField()


class EvidenceApproverSerializer(serializers.Serializer):
    approver = serializers.CharField()
    at = serializers.DateTimeField()


class EvidenceBreakGlassSerializer(serializers.Serializer):
    by = serializers.CharField()
    at = serializers.DateTimeField()
    reason = serializers.CharField()
    paged = serializers.ListField(child=serializers.CharField(), help_text="Usernames paged.")


class EvidenceEmergencySerializer(serializers.Serializer):
    independent_approvals = EvidenceApproverSerializer(
        many=True, help_text="Approvers who neither requested it nor wrote its commits."
    )
    not_counted = serializers.ListField(
        child=serializers.CharField(), help_text="Approvals that are not independent, and why."
    )
    break_glass = EvidenceBreakGlassSerializer(allow_null=True)


class EvidenceRetrospectiveSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="One of: not needed, due, overdue, done.")
    due_at = serializers.DateTimeField(allow_null=True)
    done_at = serializers.DateTimeField(allow_null=True)


# "from" is a keyword, so this one is built rather than declared.
EvidenceHistorySerializer = type(
    "EvidenceHistorySerializer",
    (serializers.Serializer,),
    {
        "from": serializers.CharField(),
        "to": serializers.CharField(),
        "by": serializers.CharField(help_text="“runway” when the scheduler moved it."),
        "at": serializers.DateTimeField(),
        "reason": serializers.CharField(),
        "gates": EvidenceGateSerializer(
            many=True, help_text="The gates as evaluated for the move (a start)."
        ),
    },
)


class EvidenceSealSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    mac = serializers.CharField()
    key_id = serializers.CharField()


class EvidenceCheckpointSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="How many events the chain held.")
    mac = serializers.CharField(help_text="The chain's head then.")
    at = serializers.DateTimeField()
    key_id = serializers.CharField()
    signature = serializers.CharField()


class EvidenceAuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    request_id = serializers.CharField()
    seal = EvidenceSealSerializer(
        allow_null=True,
        help_text="Its place in the audit chain (manage.py audit_verify); null for a moment "
        "after it is written, until it is sealed.",
    )


class EvidenceSerializer(serializers.Serializer):
    """Documents `apps.releases.evidence.release_evidence`; the view returns its dict as is."""

    release = EvidenceReleaseSerializer()
    requested_by = serializers.CharField()
    commits = EvidenceCommitSerializer(many=True)
    approvals = EvidenceApprovalSerializer(many=True)
    checks = EvidenceCheckSerializer(many=True)
    emergency = EvidenceEmergencySerializer(
        allow_null=True, help_text="Emergency changes to production only."
    )
    retrospective = EvidenceRetrospectiveSerializer()
    gates_now = EvidenceGateSerializer(many=True, help_text="The gates if it started now.")
    history = EvidenceHistorySerializer(many=True)
    audit_events = EvidenceAuditEventSerializer(many=True)
    audit_checkpoint = EvidenceCheckpointSerializer(
        allow_null=True, help_text="The signed head of the audit chain at export."
    )
    generated_at = serializers.DateTimeField()

    def get_fields(self):
        """Plus the sections later apps contribute (apps/releases/evidence_sections.py), known
        once every app is ready, as the schema is drawn."""
        fields = super().get_fields()
        for section in evidence_sections.sections():
            fields[section.key] = section.serializer(
                many=section.many, allow_null=not section.many, help_text=section.title
            )
        return fields


# --- Approval policies -----------------------------------------------------------------------


class ApprovalRuleSerializer(serializers.ModelSerializer):
    team = _team_field(required=False, allow_null=True, default=None)
    role = serializers.ChoiceField(
        choices=Role.choices, required=False, allow_blank=True, default=""
    )
    users = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.all(),
        many=True,
        required=False,
        default=list,
        error_messages={"does_not_exist": "No user is called “{value}”."},
    )

    class Meta:
        model = ApprovalRule
        fields = ["id", "name", "required_count", "team", "role", "users"]
        read_only_fields = ["id"]


class ApprovalPolicySerializer(serializers.ModelSerializer):
    """Scope: an environment kind, or one service's environment (`service` + `environment`)."""

    service: serializers.Field = serializers.CharField(
        source="environment.service.name",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="With `environment`: the service whose environment this policy covers.",
    )
    environment: serializers.Field = serializers.CharField(
        source="environment.name", read_only=True, allow_null=True, default=None
    )
    environment_kind = _environment_kind_field(
        help_text="Every environment of this kind; or leave empty and name an environment."
    )
    change_type = serializers.ChoiceField(
        choices=ChangeType.choices, required=False, allow_blank=True, default=""
    )
    required_checks = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list
    )
    rules = ApprovalRuleSerializer(many=True)

    class Meta:
        model = ApprovalPolicy
        fields = [
            "id", "name", "description", "service", "environment", "environment_kind", "tier",
            "change_type", "separation_of_duties", "require_known_authors", "wait_minutes",
            "approval_ttl_hours",
            "required_checks", "retrospective_days", "is_active", "rules",
        ]  # fmt: skip
        read_only_fields = ["id"]
        # Uniqueness is checked by the service, once, for every entry point.
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}


class ApprovalPolicyCreateSerializer(ApprovalPolicySerializer):
    service = _service_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="With `environment`: scope the policy to one service's environment.",
    )
    environment = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The name of one of `service`'s environments.",
    )

    def validate(self, data):
        service, name = data.pop("service"), data.pop("environment")
        if name and service is None:
            raise serializers.ValidationError({"service": "Name the environment's service."})
        if service is not None and not name:
            raise serializers.ValidationError({"environment": f"Name an environment of {service}."})
        data["environment"] = _environment_of(service, name) if service is not None else None
        return data

    def service_arguments(self) -> dict:
        """Keyword arguments for `approval_policy_create`."""
        data = dict(self.validated_data)
        data["rules"] = [
            {**rule, "users": list(rule["users"]), "role": rule["role"] or ""}
            for rule in data["rules"]
        ]
        return data


# --- Change windows and freezes --------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$",
        "description": "ISO 8601 without a UTC offset: a wall-clock time.",
        "example": "2026-01-05T09:00:00",
    }
)
class WallClockField(serializers.DateTimeField):
    """A wall-clock time in the window's own time zone: any UTC offset given is ignored. Stored
    as the naive wall-clock time (in UTC form, as the rest of Runway expects)."""

    def enforce_timezone(self, value):
        return value.replace(tzinfo=UTC)

    def to_representation(self, value):
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None).isoformat()


class _ScopedSerializer(serializers.ModelSerializer):
    team = _team_field(
        required=False, allow_null=True, default=None, help_text="Team scope: the team's slug."
    )
    service = _service_field(
        required=False, allow_null=True, default=None, help_text="Service scope: its name."
    )
    scope = serializers.ChoiceField(choices=WindowScope.choices)
    environment_kind = _environment_kind_field(
        help_text="Environment scope: every environment of this kind."
    )


@extend_schema_field(serializers.ChoiceField(choices=RuleState.choices))
class RuleStateField(serializers.Field):
    """When the window or freeze stands now: active now, upcoming, ended, inactive (a window
    switched off), invalid (a stored rule that no longer passes the checks) or deleted."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, rule) -> str:
        return str(state_of(rule))


class _RuleSerializer(_ScopedSerializer):
    state = RuleStateField()
    actions = serializers.SerializerMethodField(
        help_text="What you may do with it now: edit, deactivate, reactivate, end_now, extend, "
        "delete."
    )
    deleted_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_actions(self, rule) -> list[str]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return sorted(rule_actions(rule, user))


class ChangeWindowSerializer(_RuleSerializer):
    starts_at_local = WallClockField(
        help_text="First occurrence, as wall-clock time in `time_zone`, e.g. 2026-01-05T09:00:00."
    )
    time_zone = serializers.CharField(
        max_length=64, required=False, default="UTC", help_text="An IANA name: Europe/Berlin."
    )

    class Meta:
        model = ChangeWindow
        fields = [
            "id", "name", "kind", "rrule", "starts_at_local", "duration_minutes", "time_zone",
            "scope", "team", "service", "environment_kind", "is_active", "state", "actions",
            "deleted_at",
        ]  # fmt: skip
        read_only_fields = ["id"]
        # The RRULE is checked by the service, which names `rrule` in a clear message.
        extra_kwargs = {"rrule": {"help_text": "RFC 5545, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH"}}


class FreezeSerializer(_RuleSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    rrule = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Empty for a one-off freeze. Else RFC 5545, e.g. FREQ=MONTHLY;INTERVAL=3: each "
        "occurrence starts at `starts_at`'s wall-clock time in `time_zone` and lasts as long as "
        "the first (`starts_at` to `ends_at`), 31 days at most.",
    )
    time_zone = serializers.CharField(
        max_length=64,
        required=False,
        default="UTC",
        help_text="An IANA name: Europe/Berlin. Where a recurring freeze keeps its wall-clock "
        "times.",
    )
    ended_early_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Freeze
        fields = [
            "id", "name", "reason", "starts_at", "ends_at", "rrule", "time_zone", "scope", "team",
            "service", "environment_kind", "created_by", "ended_early_at", "end_reason", "state",
            "actions", "deleted_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_by", "end_reason"]


class FreezeEndNowSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=1000, allow_blank=True, help_text="Why the freeze ends early; required."
    )

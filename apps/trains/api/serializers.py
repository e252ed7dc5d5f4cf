from rest_framework import serializers

from apps.releases.api.serializers import CommitSerializer
from apps.trains.models import MAX_MEMBERS, RollbackPolicy, Train, TrainApproval, TrainTransition
from apps.trains.transitions import promotion_of


class TrainMemberInputSerializer(serializers.Serializer):
    service = serializers.CharField(max_length=63, help_text="The service's name.")
    version = serializers.CharField(
        max_length=300, help_text="An immutable image reference: a tag or, better, a digest."
    )
    title = serializers.CharField(
        max_length=200,
        required=False,
        default="",
        allow_blank=True,
        help_text="The member release's title; the train's name and the version when empty.",
    )
    commits = CommitSerializer(many=True, required=False, default=list)


class TrainPlanSerializer(serializers.Serializer):
    environment = serializers.CharField(
        max_length=63, help_text="The name of the environment every member ships to."
    )
    # Past one too many, the body is refused before each member is read; the service says why.
    members = TrainMemberInputSerializer(  # type: ignore[call-arg]
        many=True, max_length=MAX_MEMBERS + 1, help_text="2 to 200 members, each service once."
    )

    def member_arguments(self) -> list[dict]:
        return [
            {
                **member,
                "commits": [
                    {
                        "sha": commit["sha"],
                        "author": commit["author"],
                        "message": commit.get("message", ""),
                        "committed_at": commit["committed_at"],
                    }
                    for commit in member["commits"]
                ],
            }
            for member in self.validated_data["members"]
        ]


class TrainCreateSerializer(TrainPlanSerializer):
    name = serializers.CharField(max_length=200)
    planned_start = serializers.DateTimeField(help_text="ISO 8601, with a UTC offset.")
    planned_end = serializers.DateTimeField(help_text="ISO 8601, with a UTC offset.")
    max_parallel = serializers.IntegerField(
        min_value=1,
        max_value=MAX_MEMBERS,
        default=5,
        help_text="At most this many members of one wave roll out at once.",
    )
    rollback_policy = serializers.ChoiceField(
        choices=RollbackPolicy.choices, default=RollbackPolicy.LEAVE
    )
    submit = serializers.BooleanField(
        default=False, help_text="Submit it right away; if that is refused, nothing is created."
    )

    def service_arguments(self) -> tuple[dict, bool]:
        data = dict(self.validated_data)
        submit = data.pop("submit")
        data["environment_name"] = data.pop("environment")
        data["members"] = self.member_arguments()
        return data, submit


class WavesSerializer(serializers.Serializer):
    waves = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Service names, first wave first; a member starts after those it depends on.",
    )


class TrainListSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    environment = serializers.CharField(source="environment_name", read_only=True)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Train
        fields = [
            "id",
            "name",
            "environment",
            "state",
            "requested_by",
            "member_count",
            "max_parallel",
            "rollback_policy",
            "created_at",
            "approved_at",
        ]


class TrainMemberSerializer(serializers.Serializer):
    service = serializers.CharField(source="service.name")
    release = serializers.IntegerField(source="pk")
    version = serializers.CharField()
    state = serializers.CharField()


class TrainApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username", read_only=True)
    rule = serializers.CharField(source="rule.name", read_only=True, allow_null=True)

    class Meta:
        model = TrainApproval
        fields = ["approver", "decision", "rule", "comment", "created_at", "expires_at"]


class TrainTransitionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True)

    class Meta:
        model = TrainTransition
        fields = ["from_state", "to_state", "actor", "reason", "at"]


class TrainDetailSerializer(TrainListSerializer):
    members = TrainMemberSerializer(many=True, source="member_releases")
    plan = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="The waves, first first; frozen at approval (plan_frozen_at).",
    )
    approval = serializers.CharField(source="approval_summary")
    approvals = TrainApprovalSerializer(many=True, read_only=True)
    history = TrainTransitionSerializer(many=True, source="transitions", read_only=True)
    actions = serializers.ListField(child=serializers.CharField(), source="actions_now")
    promoted_from = serializers.IntegerField(
        source="promoted_from_id",
        read_only=True,
        allow_null=True,
        help_text="The train that succeeded before, promoted as this one.",
    )
    promoted_to = serializers.SerializerMethodField(
        help_text="The train this one was promoted as, once promoted."
    )

    class Meta(TrainListSerializer.Meta):
        fields = [
            *TrainListSerializer.Meta.fields,
            "plan",
            "plan_frozen_at",
            "submitted_at",
            "started_at",
            "finished_at",
            "members",
            "approval",
            "approvals",
            "history",
            "actions",
            "promoted_from",
            "promoted_to",
        ]

    def get_promoted_to(self, train: Train) -> int | None:
        promoted = promotion_of(train)
        return promoted.pk if promoted else None


class TrainDecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class TrainRejectSerializer(serializers.Serializer):
    comment = serializers.CharField(help_text="Why: the requester needs to know.")


class TrainPromoteSerializer(serializers.Serializer):
    emergency = serializers.BooleanField(
        required=False, default=False, help_text="Skip the members' soak, saying why."
    )
    justification = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500
    )
    submit = serializers.BooleanField(
        required=False, default=False, help_text="Submit the new train for approval at once."
    )


class TrainCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")

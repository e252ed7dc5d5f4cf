from rest_framework import serializers

from apps.accounts.models import ApiToken, Team, User


class TeamSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ["id", "slug", "name", "description", "member_count"]


class TeamRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "slug", "name"]


class MeSerializer(serializers.ModelSerializer):
    teams = TeamRefSerializer(many=True, read_only=True)
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)
    is_platform_admin = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "time_zone",
            "teams",
            "roles",
            "is_platform_admin",
        ]


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "key_hint",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=366
    )


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class ServiceAccountSerializer(serializers.ModelSerializer):
    reports_checks_for: "serializers.SlugRelatedField[Team]" = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )

    class Meta:
        model = User
        fields = ["id", "username", "is_active", "reports_checks_for", "date_joined"]
        read_only_fields = fields


class ServiceAccountCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, help_text="e.g. ci-payments")
    teams = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        many=True,
        help_text="Slugs of the teams whose releases' checks it reports.",
        error_messages={"does_not_exist": "No team is called “{value}”."},
    )
    token_name = serializers.CharField(max_length=100, default="ci")
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=366
    )


class ServiceAccountCreatedSerializer(ServiceAccountSerializer):
    token = ApiTokenCreatedSerializer(read_only=True, help_text="Its first token, shown once.")

    class Meta(ServiceAccountSerializer.Meta):
        fields = [*ServiceAccountSerializer.Meta.fields, "token"]
        read_only_fields = fields

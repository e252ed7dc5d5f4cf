from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import permissions, selectors, services
from apps.accounts.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    MeSerializer,
    ServiceAccountCreatedSerializer,
    ServiceAccountCreateSerializer,
    ServiceAccountSerializer,
    TeamSerializer,
)
from apps.accounts.models import ApiToken, User
from apps.core.http import signed_in_user


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="The caller: user, teams and roles")
    def get(self, request):
        summary = selectors.user_profile_summary(user=request.user)
        user = request.user
        user.roles = summary["role_values"]
        user.is_platform_admin = summary["is_platform_admin"]
        return Response(MeSerializer(user).data)


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TeamSerializer
    lookup_field = "slug"
    filterset_fields = ["slug"]

    def get_queryset(self):
        return selectors.team_list()


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own personal API tokens."""

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.api_tokens_of(user=signed_in_user(self.request))

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.api_token_create(actor=request.user, **serializer.validated_data)
        token.key = key
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = permissions.get_visible_or_404(self.get_queryset(), pk=pk)
        token = services.api_token_revoke(actor=request.user, token=token)
        return Response(ApiTokenSerializer(token).data)


class ServiceAccountViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """CI identities: platform admins create them and issue their tokens."""

    permission_classes = [permissions.api_rule(permissions.can_manage_service_accounts)]
    serializer_class = ServiceAccountSerializer
    queryset = User.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return selectors.service_accounts()

    @extend_schema(
        summary="Create a service account for CI, with its first token (shown once)",
        request=ServiceAccountCreateSerializer,
        responses={201: ServiceAccountCreatedSerializer},
    )
    def create(self, request):
        body = ServiceAccountCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        account, token, key = services.service_account_create(
            actor=request.user, **body.validated_data
        )
        token.key = key
        account = self.get_queryset().get(pk=account.pk)
        account.token = token
        return Response(
            ServiceAccountCreatedSerializer(account).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Issue another token for a service account (shown once)",
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenCreatedSerializer},
    )
    @action(detail=True, methods=["post"])
    def tokens(self, request, pk=None):
        account = permissions.get_visible_or_404(self.get_queryset(), pk=pk)
        body = ApiTokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, key = services.service_account_token_issue(
            actor=request.user, account=account, **body.validated_data
        )
        token.key = key
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

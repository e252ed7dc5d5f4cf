"""The API of supply-chain trust: CI uploads evidence for an artifact; platform admins trust
keys, revoke them, make policies and suppress vulnerabilities for a while. The same services and
rules as the pages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import permissions
from apps.core.api import JSONParser
from apps.core.http import signed_in_user
from apps.supplychain import selectors, services
from apps.supplychain.api.serializers import (
    AttestationSerializer,
    AttestationUploadSerializer,
    RevokeSerializer,
    SuppressionSerializer,
    SuppressionSetSerializer,
    TrustedKeySerializer,
    TrustPolicyCreateSerializer,
    TrustPolicySerializer,
    TrustPolicyUpdateSerializer,
)
from apps.supplychain.models import Attestation, TrustedKey, TrustPolicy


class AttestationsView(generics.ListAPIView):
    """The evidence uploaded for an artifact, oldest first."""

    permission_classes = [
        permissions.api_rule(permissions.can_upload_evidence, safe_rule=permissions.can_read)
    ]
    serializer_class = AttestationSerializer
    filter_backends: list = []
    # Evidence is the JSON document a tool wrote, stored as received: no form encoding.
    parser_classes = [JSONParser]

    def get_queryset(self):
        return (
            Attestation.objects.filter(digest=self.kwargs["digest"])
            .select_related("uploaded_by")
            .order_by("uploaded_at", "id")
        )

    @extend_schema(
        request=AttestationUploadSerializer,
        responses={201: AttestationSerializer, 200: AttestationSerializer},
    )
    def post(self, request, digest: str):
        """Upload a DSSE envelope or a cosign signature for the artifact, as the tool wrote it:
        stored as received once it reads, and verified whenever a release of it is checked.
        The same document again answers 200 with what is stored."""
        attestation, new = services.attestation_upload(
            actor=signed_in_user(request), digest=digest, document=request.data
        )
        return Response(
            AttestationSerializer(attestation).data,
            status=status.HTTP_201_CREATED if new else status.HTTP_200_OK,
        )


class _TrustList(generics.ListAPIView):
    """A list everybody signed in reads, and platform admins add to (the services decide)."""

    permission_classes = [
        permissions.api_rule(permissions.can_manage_trust, safe_rule=permissions.can_read)
    ]
    filter_backends: list = []


class TrustedKeysView(_TrustList):
    """The keys Runway trusts, revoked ones too."""

    serializer_class = TrustedKeySerializer

    def get_queryset(self):
        return selectors.trusted_key_list()

    @extend_schema(request=TrustedKeySerializer, responses={201: TrustedKeySerializer})
    def post(self, request):
        """Trust a public key (PEM: ECDSA P-256, Ed25519, or RSA of 2,048 bits or more)."""
        body = TrustedKeySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = services.trusted_key_add(actor=signed_in_user(request), **body.validated_data)
        return Response(TrustedKeySerializer(key).data, status=status.HTTP_201_CREATED)


class TrustedKeyRevokeView(APIView):
    permission_classes = [permissions.api_rule(permissions.can_manage_trust)]

    @extend_schema(request=RevokeSerializer, responses=TrustedKeySerializer)
    def post(self, request, pk: int):
        """Stop trusting the key, saying why: its signatures count for nothing from now on."""
        key = get_object_or_404(TrustedKey, pk=pk)
        body = RevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = services.trusted_key_revoke(
            actor=signed_in_user(request), key=key, reason=body.validated_data["reason"]
        )
        return Response(TrustedKeySerializer(key).data)


class TrustPoliciesView(_TrustList):
    """The trust policies: what an artifact must carry, for which teams and environments."""

    serializer_class = TrustPolicySerializer

    def get_queryset(self):
        return selectors.trust_policy_list()

    @extend_schema(request=TrustPolicyCreateSerializer, responses={201: TrustPolicySerializer})
    def post(self, request):
        body = TrustPolicyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        policy = services.trust_policy_create(
            actor=signed_in_user(request), key_names=fields.pop("keys"), **fields
        )
        return Response(TrustPolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class TrustPolicyView(APIView):
    permission_classes = [
        permissions.api_rule(permissions.can_manage_trust, safe_rule=permissions.can_read)
    ]

    @extend_schema(responses=TrustPolicySerializer)
    def get(self, request, pk: int):
        """One trust policy."""
        return Response(
            TrustPolicySerializer(get_object_or_404(selectors.trust_policy_list(), pk=pk)).data
        )

    @extend_schema(request=TrustPolicyUpdateSerializer, responses=TrustPolicySerializer)
    def patch(self, request, pk: int):
        """Change the policy (`is_active: false` switches it off): releases are checked
        against it as it is from then on, again when they start."""
        policy = get_object_or_404(TrustPolicy, pk=pk)
        body = TrustPolicyUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        key_names = fields.pop("keys", None)
        policy = services.trust_policy_update(
            actor=signed_in_user(request), policy=policy, key_names=key_names, **fields
        )
        return Response(TrustPolicySerializer(policy).data)


class SuppressionsView(_TrustList):
    """Vulnerabilities said not to affect a service, each until its date."""

    serializer_class = SuppressionSerializer

    def get_queryset(self):
        return selectors.suppression_list()

    @extend_schema(request=SuppressionSetSerializer, responses={201: SuppressionSerializer})
    def post(self, request):
        """Suppress a vulnerability for a service, with the reason, for at most 90 days."""
        body = SuppressionSetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        suppression = services.suppression_set(actor=signed_in_user(request), **body.validated_data)
        return Response(SuppressionSerializer(suppression).data, status=status.HTTP_201_CREATED)

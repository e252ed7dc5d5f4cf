"""The releases API. Every write goes through the same service function as the web pages, so
the API applies exactly the browser's rules; only the browser's re-authentication before a
production approval does not apply here (a token or session is the credential)."""

from collections.abc import Callable

from django.db import IntegrityError
from django.db.models import Model
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.accounts import permissions
from apps.core import idempotency
from apps.releases import selectors, services
from apps.releases.api.serializers import (
    ApprovalPolicyCreateSerializer,
    ApprovalPolicySerializer,
    ApproveSerializer,
    BreakGlassRequestSerializer,
    CancelSerializer,
    ChangeWindowSerializer,
    CheckReportSerializer,
    CheckSerializer,
    EvidenceSerializer,
    FreezeEndNowSerializer,
    FreezeSerializer,
    RejectSerializer,
    ReleaseCreateSerializer,
    ReleaseDetailSerializer,
    ReleaseListSerializer,
    ReleasePromoteSerializer,
    ReleaseUpdateSerializer,
)
from apps.releases.calendar import services as calendar_services
from apps.releases.calendar.filters import ChangeWindowFilter, FreezeFilter
from apps.releases.evidence import release_evidence
from apps.releases.filters import ReleaseFilter
from apps.releases.gates import readiness
from apps.releases.models import ChangeWindow, Freeze, Release
from apps.releases.policies import approval_status

REFUSED = OpenApiResponse(description="Refused: the body names the field and says why.")
FORBIDDEN = OpenApiResponse(description="Your role or team may not do this.")
NOT_FOUND = OpenApiResponse(description="No release with this id.")
STEERED = OpenApiResponse(
    description="The release is a train's member: it is acted on through its train."
)
# What a release action answers: the release as it is now, or why not.
ACTION_RESPONSES = {
    200: ReleaseDetailSerializer,
    400: REFUSED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: STEERED,
}


def _detail_queryset():
    # Who reported each check is shown too: one query for all of them, not one per check.
    return selectors.release_detail_queryset().prefetch_related("checks__reported_by")


def _action_schema(summary: str, request, description: str | None = None):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses=ACTION_RESPONSES,
    )


@extend_schema_view(
    list=extend_schema(summary="Releases, newest planned first, filtered like the releases page"),
    retrieve=extend_schema(
        summary="A release with its commits, approvals, checks, history, gates and conflicts",
        responses={200: ReleaseDetailSerializer, 404: NOT_FOUND},
    ),
)
class ReleaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Change requests. Everybody signed in reads; the services decide who may write."""

    permission_classes = [permissions.api_rule(permissions.can_read)]
    filterset_class = ReleaseFilter
    serializer_class = ReleaseListSerializer

    def get_queryset(self):
        if self.action == "list":
            return selectors.release_list().order_by("-planned_start", "-id")
        return _detail_queryset()

    def get_serializer_class(self):
        return ReleaseListSerializer if self.action == "list" else ReleaseDetailSerializer

    def retrieve(self, request, pk=None):
        return Response(self._detail_by_pk(pk))

    @extend_schema(
        summary="Request a release (and optionally submit it)",
        description=(
            "With `submit: true` the release is created and submitted in one transaction: if "
            "submitting is refused (a freeze, a closed window) nothing is created."
        ),
        request=ReleaseCreateSerializer,
        responses={
            201: ReleaseDetailSerializer,
            400: REFUSED,
            403: FORBIDDEN,
            409: idempotency.KEY_IN_FLIGHT,
            422: idempotency.KEY_REUSED,
        },
        parameters=[idempotency.SCHEMA_PARAMETER],
    )
    @idempotency.idempotent
    def create(self, request, *args, **kwargs):
        body = ReleaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        arguments, submit = body.service_arguments()
        release = services.release_request(actor=request.user, submit=submit, **arguments)
        return Response(self._detail_by_pk(release.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a release that has not started",
        description=(
            "Only the fields sent change. Changing what ships (version, commits, planned "
            "times) after an approval invalidates the approvals and sends the release back "
            "for approval. A release in progress or finished cannot be edited."
        ),
        request=ReleaseUpdateSerializer,
        responses=ACTION_RESPONSES,
    )
    def partial_update(self, request, pk=None):
        body = ReleaseUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.release_update(
            actor=request.user, release=self._release(pk), **body.service_arguments()
        )
        return Response(self._detail_by_pk(pk))

    @_action_schema("Submit a draft for approval", request=None)
    @action(detail=True, methods=["post"], filter_backends=[])
    def submit(self, request, pk=None):
        services.release_submit(actor=request.user, release=self._release(pk))
        return Response(self._detail_by_pk(pk))

    @_action_schema(
        "Approve a release",
        request=ApproveSerializer,
        description="Counts under the first rule you are eligible for that still needs approvals.",
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def approve(self, request, pk=None):
        # 403 before the body is read, audited like the service's own refusals.
        services.release_decider_require(
            actor=request.user, release=self._release(pk), decision="approve"
        )
        body = ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.release_approve(
            actor=request.user, release=self._release(pk), **body.validated_data
        )
        return Response(self._detail_by_pk(pk))

    @_action_schema("Reject a release, saying why", request=RejectSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reject(self, request, pk=None):
        services.release_decider_require(
            actor=request.user, release=self._release(pk), decision="reject"
        )
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.release_reject(
                actor=request.user, release=self._release(pk), **body.validated_data
            )
        except IntegrityError:
            # release_reject refuses a second decision by the same person itself, under the
            # release's row lock. Should the database's one-live-decision constraint still
            # refuse the row, the service has rolled back: answer as the service would.
            raise ValidationError(
                {"detail": ["You have already decided on this release."]}
            ) from None
        return Response(self._detail_by_pk(pk))

    @_action_schema("Cancel a release", request=CancelSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request, pk=None):
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.release_cancel(
            actor=request.user, release=self._release(pk), **body.validated_data
        )
        return Response(self._detail_by_pk(pk))

    @_action_schema(
        "Break glass: let an emergency to production start without an independent approval",
        request=BreakGlassRequestSerializer,
        description=(
            "For the requester and release managers, before the start of an emergency change "
            "to production that has no approval from someone who neither requested it nor "
            "wrote its commits. Pages leadership and platform admins and makes the "
            "retrospective review due. A missing or short `reason` is a 400 naming it."
        ),
    )
    @action(detail=True, methods=["post"], filter_backends=[], url_path="break-glass")
    def break_glass(self, request, pk=None):
        body = BreakGlassRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.release_break_glass(
            actor=request.user, release=self._release(pk), **body.validated_data
        )
        return Response(self._detail_by_pk(pk))

    @extend_schema(
        summary="Promote a release that succeeded to the service's next environment",
        description=(
            "A new release of the same version and commits to the next environment, under that "
            "environment's own policy, windows and freezes (and the soak asked where this one "
            "ran); submitted for approval with `submit`. 409 when that version is already asked "
            "of the next environment."
        ),
        request=ReleasePromoteSerializer,
        responses={
            201: ReleaseDetailSerializer,
            400: REFUSED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Already asked of the next environment."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def promote(self, request, pk=None):
        body = ReleasePromoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        promoted = services.release_promote(
            actor=request.user, release=self._release(pk), **body.validated_data
        )
        return Response(self._detail_by_pk(promoted.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="The external checks reported for a release",
        responses={200: CheckSerializer(many=True), 404: NOT_FOUND},
    )
    @extend_schema(
        methods=["POST"],
        summary="Report an external check (CI: tests, security scan, provenance)",
        description=(
            "The latest report of a check with the same name replaces the earlier one. Only CI "
            "reports checks: use the token of a service account scoped to the service's owning "
            "team (`manage.py service_account_create`). A person's token or session is a 403."
        ),
        request=CheckReportSerializer,
        responses={
            200: CheckSerializer,
            400: REFUSED,
            403: OpenApiResponse(description="Not a service account of the owning team."),
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def checks(self, request, pk=None):
        release = self._release(pk)
        if request.method == "POST":
            body = CheckReportSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            check = services.release_check_report(
                actor=request.user, release=release, **body.validated_data
            )
            return Response(CheckSerializer(check).data)
        checks = release.checks.select_related("reported_by")
        return Response(CheckSerializer(checks, many=True).data)

    @extend_schema(
        summary="The release's evidence pack, with its audit events and their chain hashes",
        responses={200: EvidenceSerializer, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def evidence(self, request, pk=None):
        release = permissions.get_visible_or_404(selectors.release_detail_queryset(), pk=pk)
        return Response(release_evidence(release))

    def _release(self, pk) -> Release:
        return permissions.get_visible_or_404(selectors.release_list(), pk=pk)

    def _detail_by_pk(self, pk) -> dict:
        return self._detail(permissions.get_visible_or_404(_detail_queryset(), pk=pk))

    def _detail(self, release: Release) -> dict:
        # What the release page shows, evaluated now: the same functions as the page.
        now = timezone.now()
        release.approval_status = approval_status(release, now=now)
        release.gates = readiness(
            release, now=now, at=max(now, release.planned_start), status=release.approval_status
        )
        release.conflicts = selectors.release_conflicts(release)
        return ReleaseDetailSerializer(release, context=self.get_serializer_context()).data


@extend_schema_view(
    list=extend_schema(summary="Approval policies with their rules"),
    retrieve=extend_schema(summary="An approval policy with its rules"),
)
class ApprovalPolicyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Everybody signed in reads; platform admins define policies."""

    # The service's own rule, asked before the body is read: no 400s for those who get a 403.
    permission_classes = [
        permissions.api_rule(permissions.is_platform_admin, safe_rule=permissions.can_read)
    ]
    serializer_class = ApprovalPolicySerializer

    def get_queryset(self):
        return selectors.approval_policies()

    @extend_schema(
        summary="Define an approval policy with its rules",
        request=ApprovalPolicyCreateSerializer,
        responses={201: ApprovalPolicySerializer, 400: REFUSED, 403: FORBIDDEN},
    )
    def create(self, request, *args, **kwargs):
        body = ApprovalPolicyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        policy = services.approval_policy_create(actor=request.user, **body.service_arguments())
        fresh = self.get_queryset().get(pk=policy.pk)
        return Response(ApprovalPolicySerializer(fresh).data, status=status.HTTP_201_CREATED)


class _CalendarViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Everybody signed in reads; release managers and platform admins create, edit and delete,
    through the same services as the pages."""

    permission_classes = [
        permissions.api_rule(permissions.can_manage_change_calendar, safe_rule=permissions.can_read)
    ]
    # The calendar's services the subclass acts through.
    create_service: Callable[..., Model]
    update_service: Callable[..., Model]
    delete_service: Callable[..., Model]
    target = ""  # the services' keyword for the object acted on

    def filter_queryset(self, queryset):
        # The list's filter (what is in force, unless asked) is the list's alone: a deleted or
        # inactive one is still found by its id.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        instance = self.create_service(actor=request.user, **body.validated_data)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        instance = self.get_object()
        body = self.get_serializer(instance, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        self.update_service(actor=request.user, **{self.target: instance}, **body.validated_data)
        return Response(self._fresh(instance.pk))

    def destroy(self, request, pk=None):
        self.delete_service(actor=request.user, **{self.target: self.get_object()})
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _fresh(self, pk) -> dict:
        return self.get_serializer(self.get_queryset().get(pk=pk)).data


def _calendar_schema(noun: str, serializer, *, patch: str, delete: str):
    return extend_schema_view(
        list=extend_schema(
            summary=f"{noun}s: what is in force unless `status` asks for more",
            description="Deleted ones (and inactive windows) are listed only with `status`.",
        ),
        retrieve=extend_schema(summary=f"A {noun.lower()}, deleted or not"),
        partial_update=extend_schema(
            summary=f"Edit a {noun.lower()}",
            description=patch,
            responses={200: serializer, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
        ),
        destroy=extend_schema(
            summary=f"Delete a {noun.lower()}",
            description=delete,
            responses={204: None, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
        ),
    )


@_calendar_schema(
    "Change window",
    ChangeWindowSerializer,
    patch="Only the fields sent change, checked as on creation. `is_active: false` switches the "
    "window off (it decides nothing until switched on again). A deleted window is a 404.",
    delete="The window stops deciding at once. It is kept, with who deleted it and when "
    "(`?status=deleted` lists it), and the audit log records it.",
)
@extend_schema_view(
    create=extend_schema(
        summary="Create a recurring change window",
        description="A bad RRULE is a 400 on `rrule`; an unknown time zone a 400 on `time_zone`.",
        responses={201: ChangeWindowSerializer, 400: REFUSED, 403: FORBIDDEN},
    ),
)
class ChangeWindowViewSet(_CalendarViewSet):
    serializer_class = ChangeWindowSerializer
    filterset_class = ChangeWindowFilter
    queryset = ChangeWindow.objects.select_related("team", "service").order_by("name", "id")
    create_service = staticmethod(calendar_services.change_window_create)
    update_service = staticmethod(calendar_services.change_window_update)
    delete_service = staticmethod(calendar_services.change_window_delete)
    target = "window"


@_calendar_schema(
    "Freeze",
    FreezeSerializer,
    patch="Only the fields sent change, checked as on creation; a later `ends_at` extends a "
    "one-off freeze (366 days at most from its start). An ended freeze is kept as it was (a "
    "400 on `ends_at`); a deleted one is a 404.",
    delete="The freeze stops no release from then on. It is kept, with who deleted it and when "
    "(`?status=deleted` lists it), and the audit log records it.",
)
@extend_schema_view(
    create=extend_schema(
        summary="Create a freeze, one-off or recurring",
        description="An end at or before the start is a 400 on `ends_at`; a bad `rrule` a 400 "
        "on `rrule`.",
        responses={201: FreezeSerializer, 400: REFUSED, 403: FORBIDDEN},
    ),
)
class FreezeViewSet(_CalendarViewSet):
    serializer_class = FreezeSerializer
    filterset_class = FreezeFilter
    queryset = Freeze.objects.select_related("team", "service", "created_by").order_by(
        "starts_at", "id"
    )
    create_service = staticmethod(calendar_services.freeze_create)
    update_service = staticmethod(calendar_services.freeze_update)
    delete_service = staticmethod(calendar_services.freeze_delete)
    target = "freeze"

    @extend_schema(
        summary="End a freeze now, saying why",
        description="For a freeze under way: a one-off freeze ends now; a recurring one's current "
        "occurrence ends now and its later ones still stop releases. A missing or blank "
        "`reason` is a 400 naming it; a freeze not under way a 400 on `ends_at`.",
        request=FreezeEndNowSerializer,
        responses={200: FreezeSerializer, 400: REFUSED, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"], url_path="end-now", filter_backends=[])
    def end_now(self, request, pk=None):
        freeze = self.get_object()
        body = FreezeEndNowSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        calendar_services.freeze_end_now(
            actor=request.user, freeze=freeze, reason=body.validated_data["reason"]
        )
        return Response(self._fresh(freeze.pk))

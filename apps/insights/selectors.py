"""Reads of the reports app: webhook sources, deliveries, matching deliveries to services, and
the DORA report."""

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from apps.accounts.models import Team
from apps.catalog.models import Service
from apps.insights import dora
from apps.insights.models import (
    AliasKind,
    CommitFact,
    DailyDeploymentRollup,
    DeliveryStatus,
    DeploymentFact,
    DeploymentResult,
    IncidentFact,
    LeadTime,
    ServiceAlias,
    WebhookDelivery,
    WebhookSource,
)
from apps.insights.webhooks.repositories import normalise_repository, repository_name

DEFAULT_WINDOW_DAYS = 90
MAX_WINDOW_DAYS = 3 * 366

# --- Webhook sources and deliveries -----------------------------------------------------------


def webhook_source_list() -> QuerySet[WebhookSource]:
    return WebhookSource.objects.select_related("created_by").order_by("name")


def webhook_source_by_ref(ref: str) -> WebhookSource | None:
    """An active source by id or slug (slugs always hold a letter, so digits mean an id)."""
    ref = (ref or "").strip()
    if not ref or len(ref) > 63:
        return None
    lookup: dict[str, int | str] = {"pk": int(ref)} if ref.isdigit() else {"slug": ref.lower()}
    return WebhookSource.objects.filter(is_active=True, **lookup).first()


def unmatched_delivery_list() -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.filter(status=DeliveryStatus.UNMATCHED)
        .select_related("source")
        .order_by("-received_at", "-id")
    )


# --- Which service a delivery is about --------------------------------------------------------


def service_for_repository(url: str) -> tuple[Service | None, str, str]:
    """(service, normalised repository, why not found). An admin's alias wins; else the one
    catalog service whose repository_url is the same repository. Several services sharing one
    repository (a monorepo) cannot be told apart by it: such deliveries wait for an admin."""
    key = normalise_repository(url)[:500]
    if not key:
        return None, "", "The delivery names no repository."
    alias = (
        ServiceAlias.objects.select_related("service")
        .filter(kind=AliasKind.REPOSITORY, key=key)
        .first()
    )
    if alias is not None:
        return alias.service, key, ""
    # The database narrows by name; the exact comparison of spellings happens here, on the
    # handful of services whose URL mentions the repository's name.
    candidates = Service.objects.filter(repository_url__icontains=repository_name(key)).only(
        "id", "name", "owner_id", "repository_url"
    )
    matches = [s for s in candidates if normalise_repository(s.repository_url) == key]
    if len(matches) == 1:
        return matches[0], key, ""
    if matches:
        names = ", ".join(sorted(s.name for s in matches))
        return None, key, f"Several services share this repository ({names}): choose one."
    return None, key, "No catalog service has this repository."


def service_for_incident_service(name: str) -> tuple[Service | None, str]:
    """An incident tool's service name: an admin's alias, else the catalog service with this
    name or (when only one has it) this title, ignoring case."""
    key = (name or "").strip().lower()[:500]
    if not key:
        return None, ""
    alias = (
        ServiceAlias.objects.select_related("service")
        .filter(kind=AliasKind.INCIDENT_SERVICE, key=key)
        .first()
    )
    if alias is not None:
        return alias.service, key
    service = Service.objects.filter(name__iexact=key).first()
    if service is None:
        titled = list(Service.objects.filter(title__iexact=key)[:2])
        service = titled[0] if len(titled) == 1 else None
    return service, key


# --- Facts ------------------------------------------------------------------------------------


def _stayed_in_production(prefix: str = "") -> Q:
    return Q(
        **{
            f"{prefix}is_production": True,
            f"{prefix}result": DeploymentResult.SUCCEEDED,
            f"{prefix}rolled_back_at__isnull": True,
        }
    )


def counted_commits() -> QuerySet[CommitFact]:
    """The commits whose lead time counts. A commit counts once: at the first production
    deployment of its service that shipped it and stayed (succeeded and was not rolled back), and
    only with a known, positive lead time. A redeployment of the same commit does not count it
    again; a failed or rolled-back deployment does not count it at all (it reaches production,
    and counts, with the deployment that ships it for good)."""
    deployment = "deployment__"
    earlier = CommitFact.objects.filter(
        _stayed_in_production(deployment),
        sha=OuterRef("sha"),
        deployment__service_id=OuterRef("deployment__service_id"),
    ).filter(
        Q(deployment__finished_at__lt=OuterRef("deployment__finished_at"))
        | Q(
            deployment__finished_at=OuterRef("deployment__finished_at"),
            deployment_id__lt=OuterRef("deployment_id"),
        )
    )
    return CommitFact.objects.filter(
        _stayed_in_production(deployment), lead_time_seconds__isnull=False
    ).exclude(Exists(earlier))


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in TIME_ZONE: days are the site's days, whoever
    looks (a report must not change with the reader's time zone)."""
    tz = timezone.get_default_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def local_day(moment: datetime) -> date:
    return timezone.localdate(moment, timezone.get_default_timezone())


# --- DORA -------------------------------------------------------------------------------------


class ScopeNotFound(Exception):
    """The team or service a report asks for does not exist."""


def scope_filters(scope: str, name: str) -> tuple[dict, str]:
    """The filter on `service` for the scope, and the scope's display name. The keys
    (`service__owner_id`, `service_id`) fit any model with a `service` foreign key."""
    if scope not in dora.SCOPES:
        raise ValidationError({"scope": f"Choose one of: {', '.join(dora.SCOPES)}."})
    name = (name or "").strip()
    if scope == dora.ORG:
        if name:
            raise ValidationError({"name": "Leave the name empty for the whole organisation."})
        return {}, ""
    if not name:
        raise ValidationError({"name": f"Name the {scope}."})
    if scope == dora.TEAM:
        team = Team.objects.filter(slug=name).only("id", "slug").first()
        if team is None:
            raise ScopeNotFound(f"No team has the slug “{name}”.")
        return {"service__owner_id": team.pk}, team.slug
    service = Service.objects.filter(name=name).only("id", "name").first()
    if service is None:
        raise ScopeNotFound(f"No service is called “{name}”.")
    return {"service_id": service.pk}, service.name


def production_rollups(start: date, end: date, filters: dict) -> QuerySet[DailyDeploymentRollup]:
    """The production roll-up rows of days start..end: frequency and failure counts."""
    return DailyDeploymentRollup.objects.filter(
        is_production=True, day__gte=start, day__lte=end, **filters
    )


def commits_counted_between(lower: datetime, upper: datetime, filters: dict) -> QuerySet:
    """The counted lead times (see counted_commits; kept as LeadTime rows by the roll-up) of
    deployments finished in [lower, upper): `seconds`, `deployed_at`, `service`."""
    return LeadTime.objects.filter(deployed_at__gte=lower, deployed_at__lt=upper, **filters)


def incidents_resolved_between(lower: datetime, upper: datetime, filters: dict) -> QuerySet:
    """Incidents resolved in [lower, upper), with their recovery time."""
    return IncidentFact.objects.filter(
        resolved_at__gte=lower, resolved_at__lt=upper, recovery_seconds__isnull=False, **filters
    )


def rollbacks_finished_between(lower: datetime, upper: datetime, filters: dict) -> QuerySet:
    """Production deployments whose rollback finished in [lower, upper), with recovery time."""
    return DeploymentFact.objects.filter(
        is_production=True,
        rolled_back_at__gte=lower,
        rolled_back_at__lt=upper,
        recovery_seconds__isnull=False,
        **filters,
    )


def dora_window(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or local_day(timezone.now())
    start = start or end - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    if start > end:
        raise ValidationError({"start": "The window must start on or before its end."})
    if (end - start).days + 1 > MAX_WINDOW_DAYS:
        raise ValidationError({"start": f"Ask for at most {MAX_WINDOW_DAYS} days at a time."})
    return start, end


def dora_report(
    *, scope: str, name: str = "", start: date | None = None, end: date | None = None
) -> dora.DoraReport:
    """The four keys for the organisation, a team (by slug) or a service (by name), over the
    days start..end inclusive (default: the last 90 days), production only.

    Counts come from the daily roll-up; medians from the facts, in the database. A fixed number
    of queries whatever the number of deployments: 6 for the organisation, 7 for a team or a
    service (the lookup of the team or service)."""
    filters, label = scope_filters(scope, name)
    start, end = dora_window(start, end)
    lower, upper = day_bounds(start, end)

    daily = (
        production_rollups(start, end, filters)
        .values("day")
        .annotate(deployments=Sum("deployments"), failures=Sum("failures"))
        .order_by()
    )
    weekly = dora.fill_weeks(start, end, dora.weeks_of_days(daily))

    lead_median, commits = dora.median_and_count(
        commits_counted_between(lower, upper, filters).values(v=F("seconds"))
    )

    incident_values = incidents_resolved_between(lower, upper, filters).values(
        v=F("recovery_seconds")
    )
    rollback_values = rollbacks_finished_between(lower, upper, filters).values(
        v=F("recovery_seconds")
    )
    incident_median, incidents = dora.median_and_count(incident_values)
    unknown_start = IncidentFact.objects.filter(
        resolved_at__gte=lower, resolved_at__lt=upper, start_known=False, **filters
    ).count()
    rollback_median, rollbacks = dora.median_and_count(rollback_values)
    recovery_median, _ = dora.median_and_count(incident_values.union(rollback_values, all=True))

    return dora.build_report(
        scope=scope,
        name=label,
        start=start,
        end=end,
        weekly=weekly,
        lead_time_median=lead_median,
        commits=commits,
        recovery_median=recovery_median,
        incidents=incidents,
        incident_median=incident_median,
        incidents_unknown_start=unknown_start,
        rollbacks=rollbacks,
        rollback_median=rollback_median,
    )

"""Automatic promotion: an environment that opts in (`Environment.auto_promote`) has Runway ask
its next environment for a release's version once the release succeeded there (its rollout and
verification passed) and the version soaked (apps/releases/soak.py). Runway asks as itself
(apps/accounts/system.py), through release_promote, so the promotion's rules stay in one place;
the new release is submitted and goes through approval, windows and freezes like any other.

What holds a release back here is what would refuse or hold the promotion anyway: a bad version,
a pin on another version in the next environment, the version already asked there, a train that
steers it. Nothing is marked as skipped: once the pin is lifted, the next run promotes it."""

from datetime import datetime

from django.db.models import (
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Subquery,
)
from django.db.models.functions import Coalesce

from apps.catalog.models import Environment
from apps.releases.models import BadVersion, Release, ReleaseState, VersionPin
from apps.releases.promotion import STILL_ASKED, next_environment, pin_refusal
from apps.releases.soak import BROKEN, soaked_at
from apps.releases.transitions import unsteered


class SecondsAsDuration(Func):
    """A whole number of seconds as a duration, to add to a time, on PostgreSQL and on the
    embedded SQLite alike (Django multiplies a duration by a column on PostgreSQL only)."""

    arity = 1
    output_field = DurationField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="make_interval(secs => %(expressions)s)", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite keeps durations as microseconds (Django's own convention there).
        return super().as_sql(
            compiler, connection, template="(%(expressions)s * 1000000)", **extra_context
        )


def auto_promotion_candidates(*, now: datetime):
    """The releases due for an automatic promotion at `now`, in one query, those Runway has not
    tried yet first (oldest success first), then those it tried and was refused, longest ago
    first: each the last success of an auto-promoting environment, soaked there, of a version
    that is not bad, not held by a pin in the next environment, not asked there yet, and never
    promoted before (by a person or by Runway: a promotion rejected or failed is not asked
    again by itself)."""
    here = OuterRef("environment_id")
    last_success = Release.objects.filter(
        environment=here, state=ReleaseState.SUCCEEDED, finished_at__isnull=False
    ).order_by("-finished_at", "-pk")
    last_break = Release.objects.filter(
        environment=here, state__in=BROKEN, finished_at__gt=OuterRef("finished_at")
    ).order_by("-finished_at")
    following = Environment.objects.filter(
        service=OuterRef("service_id"), order__gt=OuterRef("environment__order")
    ).order_by("order")
    target, version = OuterRef("next_environment"), OuterRef("version")
    releases = (
        Release.objects.filter(
            state=ReleaseState.SUCCEEDED,
            environment__auto_promote=True,
            finished_at__isnull=False,
        )
        .annotate(
            running=Subquery(last_success.values("pk")[:1]),
            broken_at=Subquery(last_break.values("finished_at")[:1]),
            next_environment=Subquery(following.values("pk")[:1]),
        )
        .annotate(
            soaked_at=ExpressionWrapper(
                Coalesce("broken_at", "finished_at")
                + SecondsAsDuration("environment__soak_seconds"),
                output_field=DateTimeField(),
            )
        )
        .filter(running=F("pk"), next_environment__isnull=False, soaked_at__lte=now)
        .exclude(Exists(BadVersion.objects.filter(service=OuterRef("service_id"), version=version)))
        .exclude(
            Exists(
                VersionPin.objects.filter(environment=target, lifted_at__isnull=True).exclude(
                    version=version
                )
            )
        )
        .exclude(
            Exists(
                Release.objects.filter(environment=target, version=version, state__in=STILL_ASKED)
            )
        )
        .exclude(Exists(Release.objects.filter(promoted_from=OuterRef("pk"))))
        # Never tried first, then the longest since a refused try: each run takes the next
        # ones in turn, however many stay held back (a freeze, a pin).
        .order_by(F("auto_promotion_tried_at").asc(nulls_first=True), "finished_at", "pk")
    )
    return unsteered(releases)


def auto_promotion_refusal(release: Release, *, now: datetime) -> str:
    """Why Runway does not promote `release` by itself at `now`; "" when it does. Asked again
    under the source's row lock: the selector's answer may be a minute old. What
    release_promote refuses itself (not a success, already asked, a bad version) it says there."""
    environment = release.environment
    if not environment.auto_promote:
        return f"{environment.name} does not promote automatically."
    if release.promotions.exists():
        return f"#{release.pk} was promoted already: asking again is a person's call."
    ready_at = soaked_at(environment, release.version)
    if ready_at is None:
        return f"{release.version} is not what runs in {environment.name} now."
    if ready_at > now:
        return f"{release.version} has not soaked in {environment.name} yet."
    target = next_environment(release)
    return pin_refusal(release, target) if target else ""

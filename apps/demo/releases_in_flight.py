"""Demo releases: policies, a change window, a freeze, and releases in every state."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from apps.accounts.models import Role, Team, User
from apps.catalog.models import Service
from apps.demo.world import CI_ACCOUNT
from apps.releases import services
from apps.releases.calendar import services as calendar_services
from apps.releases.models import (
    ApprovalPolicy,
    Release,
    ReleaseState,
    StandardChangeTemplate,
    WindowScope,
)
from apps.releases.versions.services import version_mark_bad, version_pin
from apps.releases.windows import when_allowed, window_occurrences


def _release(service_name: str, env: str, version: str, start, *, actor: User, **fields) -> Release:
    service = Service.objects.get(name=service_name)
    return services.release_create(
        actor=actor,
        service=service,
        environment=service.environments.get(name=env),
        version=f"registry.example.com/{service.owner.slug}/{service_name}:{version}",
        title=fields.pop("title", f"{service_name} {version}"),
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        commits=fields.pop("commits", None)
        or [
            {
                "sha": f"{abs(hash((service_name, version))):040x}"[:40],
                "author": "dev2@runway.example",
                "message": f"Prepare {version}",
                "committed_at": start - timedelta(days=2),
            }
        ],
        **fields,
    )


# The demo's own releases are planned up to a week after it is loaded.
DEMO_RELEASES_AHEAD = timedelta(days=7)


def year_end_freeze(now: datetime) -> tuple[datetime, datetime]:
    """The year-end freeze (20 December to 4 January): this year's, or next year's when this
    year's would cover the demo's own releases, which it would refuse. In the first days of
    January, last year's has not ended yet: it is not made, for the same reason."""
    year = now.year
    if datetime(year, 12, 20, tzinfo=UTC) < now + DEMO_RELEASES_AHEAD:
        year += 1
    return datetime(year, 12, 20, tzinfo=UTC), datetime(year + 1, 1, 4, tzinfo=UTC)


def next_allowed(service, environment, window, after):
    """The first hour inside the window, and outside any freeze, from a day after `after`."""
    for begins, _ in window_occurrences(
        window, after + timedelta(days=1), after + timedelta(days=90)
    ):
        start = begins + timedelta(hours=1)
        if when_allowed(service, environment, start, start + timedelta(hours=1)).allowed:
            return start
    raise RuntimeError("no allowed time for the demo release in the next 90 days")


def load() -> list[str]:
    if ApprovalPolicy.objects.exists():
        return []
    admin, dev = User.objects.get(username="admin"), User.objects.get(username="dev")
    rm = User.objects.get(username="rm")
    services.approval_policy_create(
        actor=admin,
        name="Production",
        environment_kind="production",
        description="Two release managers approve production changes.",
        required_checks=["tests"],
        rules=[{"name": "Release managers", "role": Role.RELEASE_MANAGER, "required_count": 2}],
    )
    services.approval_policy_create(
        actor=admin,
        name="Payments critical",
        environment_kind="production",
        tier=1,
        description="Tier-1 payments services also need a payments engineer.",
        rules=[
            {
                "name": "Payments engineers",
                "team": Team.objects.get(slug="payments"),
                "required_count": 1,
            }
        ],
    )
    StandardChangeTemplate.objects.create(
        name="Configuration-only change",
        environment_kind="staging",
        description="Feature-flag and config changes to staging.",
    )
    office_hours = calendar_services.change_window_create(
        actor=rm,
        name="Production office hours",
        kind="allow",
        rrule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH",
        starts_at_local=datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        duration_minutes=9 * 60,
        time_zone="Europe/Berlin",
        scope=WindowScope.ENVIRONMENT,
        environment_kind="production",
    )
    now = timezone.now()
    starts_at, ends_at = year_end_freeze(now)
    calendar_services.freeze_create(
        actor=rm,
        name="Year-end freeze",
        reason="Peak trading and reduced staffing.",
        starts_at=starts_at,
        ends_at=ends_at,
        scope=WindowScope.ORGANISATION,
    )
    created = []
    # search-api 2.3.0 went through dev and staging; its production release awaits approval.
    for env, days_ago in (("dev", 4), ("staging", 3)):
        shipped = _release("search-api", env, "2.3.0", now - timedelta(days=days_ago), actor=admin)
        services.release_submit(actor=admin, release=shipped)
        started, shipped = services.release_begin(release=shipped)
        if not started:
            raise RuntimeError(f"demo release did not start: {shipped.hold_reason}")
        services.release_finish(release=shipped, outcome=ReleaseState.SUCCEEDED)
    search = Service.objects.get(name="search-api")
    start = next_allowed(search, search.environments.get(name="prod"), office_hours, now)
    pending = _release(
        "search-api",
        "prod",
        "2.3.0",
        start,
        actor=admin,
        title="Search relevance tuning",
    )
    services.release_check_report(
        actor=User.objects.get(username=CI_ACCOUNT),
        release=pending,
        name="tests",
        status="passed",
        details_url="https://ci.example.com/search-api/812",
    )
    services.release_submit(actor=admin, release=pending)
    created.append(f"release #{pending.pk} awaiting approval")
    # A draft the demo developer can submit.
    draft = _release(
        "checkout-web",
        "staging",
        "5.1.0",
        now + timedelta(days=2),
        actor=dev,
        title="New checkout layout",
    )
    created.append(f"release #{draft.pk} draft")
    # Scheduled next week after approvals.
    nxt = _release("fraud-check", "staging", "1.9.0", now + timedelta(days=5), actor=dev)
    services.release_submit(actor=dev, release=nxt)
    created.append(f"release #{nxt.pk} scheduled")
    created += _held_versions(dev, rm)
    return created


def _held_versions(dev: User, rm: User) -> list[str]:
    """A soak before production (then an automatic promotion), a pin and a version marked bad:
    the Versions panel's cases."""
    search = Service.objects.get(name="search-api")
    # ...after which Runway asks production for what soaked, by itself (2.3.0 is asked already).
    search.environments.filter(name="staging").update(soak_seconds=24 * 3600, auto_promote=True)
    checkout = Service.objects.get(name="checkout-web")
    version_pin(
        actor=rm,
        environment=checkout.environments.get(name="prod"),
        version="registry.example.com/shop/checkout-web:5.0.3",
        reason="Holding prod through the card network's maintenance window.",
    )
    version_mark_bad(
        actor=dev,
        service=Service.objects.get(name="fraud-check"),
        version="registry.example.com/risk/fraud-check:1.8.1",
        reason="Scores every card as fraud under load (INC-2231).",
    )
    return ["a soak, a pin and a bad version"]

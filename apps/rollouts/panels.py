"""What the rollouts app adds to others' pages: the rollouts panel on a service's catalog page,
on a release's page the links to its rollouts and the button that starts one, and on a train's
page each member's rollouts and the live stream that keeps them current."""

from django.db.models import Exists, OuterRef, Prefetch
from django.urls import reverse

from apps.accounts import permissions
from apps.catalog.panels import Panel, register_panel
from apps.releases.models import ReleaseState
from apps.releases.page_actions import register_action, register_section
from apps.releases.transitions import steered_by
from apps.rollouts import rings, selectors
from apps.rollouts.models import Ring, Rollout, RolloutStep
from apps.trains.member_columns import MemberColumn, register_live_stream, register_member_column

STARTABLE = (ReleaseState.SCHEDULED, ReleaseState.IN_PROGRESS)


# Whether the service has any rollouts, any rings, read with its row on its page: many services
# have no rollouts yet, most no rings, and then the panels below skip their reads.
def _rollouts_row_annotations() -> dict:
    return {"any_rollouts": Exists(Rollout.objects.filter(service=OuterRef("pk")))}


def _rings_row_annotations() -> dict:
    return {"any_rings": Exists(Ring.objects.filter(environment__service=OuterRef("pk")))}


def _service_has(service, annotation: str) -> bool:
    """From the service's row when the page read it there; True (read and see) otherwise."""
    return getattr(service, annotation, True)


def _service_context(request, service) -> dict:
    if not _service_has(service, "any_rollouts"):
        return {"rollouts": []}
    return {"rollouts": selectors.service_rollouts(service=service)}


def _service_rings_context(request, service) -> dict:
    """Each environment with its rings in order (none: it rolls out to its own cluster), and
    for the service's editors the page that sets them."""
    by_environment: dict[str, list[Ring]] = {}
    rings = (
        Ring.objects.filter(environment__service=service)
        .select_related("environment", "cluster")
        .order_by("environment__order", "position")
        if _service_has(service, "any_rings")
        else []
    )
    for ring in rings:
        by_environment.setdefault(ring.environment.name, []).append(ring)
    can_edit = permissions.can_act_for_team(request.user, service.owner_id)
    # Editors see every environment (.all(): the service page has prefetched them, in order).
    names = (
        [environment.name for environment in service.environments.all()]
        if can_edit
        else list(by_environment)
    )
    return {
        "environments": [(name, by_environment.get(name, [])) for name in names],
        "can_edit": can_edit,
    }


def _release_rings_context(request, release) -> dict:
    """Each ring with the release's rollout there, and when a ring not started yet starts:
    the end of the soak of the ring before it."""
    rows = rings.release_rings(release)
    for before, row in zip([None, *rows], rows, strict=False):
        previous = before["rollout"] if before else None
        row["starts_at"] = previous.next_ring_at if previous and not row["rollout"] else None
        row["after"] = before["position"] if before else None
    return {"rings": rows}


def _release_context(request, release) -> dict:
    rollouts = list(release.rollouts.all())
    return {
        "rollouts": rollouts,
        "can_start": not rollouts
        and not steered_by(release)
        and (
            release.state in STARTABLE
            # an emergency may start before its approval; release_begin decides if it may now
            or (release.state == ReleaseState.PENDING_APPROVAL and release.is_emergency)
        )
        and permissions.can_act_for_team(request.user, release.service.owner_id),
    }


def _train_member_cells(releases) -> dict[int, dict]:
    """Each member's rollouts, with the step an active one is at: two queries, however many
    members."""
    cells: dict[int, dict] = {}
    rollouts = (
        Rollout.objects.filter(release__in=releases)
        .only("pk", "release_id", "state", "is_rollback", "current_step")
        .prefetch_related(Prefetch("steps", queryset=RolloutStep.objects.order_by("index")))
        .order_by("id")
    )
    for rollout in rollouts:
        steps = list(rollout.steps.all())
        at = rollout.current_step
        step = steps[at] if rollout.is_active and at < len(steps) else None
        cells.setdefault(rollout.release_id, {"rollouts": []})["rollouts"].append(
            {"rollout": rollout, "step": step, "steps": len(steps)}
        )
    return cells


def _train_stream_url(train_id: int) -> str:
    since = selectors.train_version(train_id=train_id) or ""
    return f"{reverse('rollouts:train-stream', args=[train_id])}?since={since}"


register_member_column(
    MemberColumn("rollouts", "Rollouts", "rollouts/panels/_train_member.html", _train_member_cells)
)
register_live_stream(_train_stream_url)
register_panel(
    Panel(
        "rollouts",
        "Rollouts",
        "rollouts/panels/_service.html",
        _service_context,
        order=30,
        row_annotations=_rollouts_row_annotations,
    )
)
register_panel(
    Panel(
        "rings",
        "Rings",
        "rollouts/panels/_service_rings.html",
        _service_rings_context,
        order=31,
        row_annotations=_rings_row_annotations,
    )
)
register_action(Panel("rollouts", "Rollouts", "rollouts/panels/_release.html", _release_context))
register_section(
    Panel("rings", "Rings", "rollouts/panels/_release_rings.html", _release_rings_context)
)

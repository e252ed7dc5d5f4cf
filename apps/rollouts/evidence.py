"""The rollout record in a release's evidence (apps/releases/evidence_sections.py): each rollout
of the release (and the rollback of one), its steps with what they did, the analysis each
verification step ran and every measurement it took, who steered it (started, paused, resumed,
promoted, aborted, rolled back) and when, and its own audit events with their seals.

Read for many releases in five queries, however many releases and rollouts."""

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Prefetch

from apps.audit.selectors import audit_events
from apps.releases.evidence import audit_event_entry
from apps.releases.models import Release
from apps.rollouts.models import AnalysisTemplate, Rollout, RolloutState, RolloutStep

# A person's (or Runway's) hand on the rollout, as its audit rows name it, in words.
STEERING = {
    "rollout.start": "started",
    "rollout.pause": "paused",
    "rollout.resume": "resumed",
    "rollout.promote": "promoted",
    "rollout.abort": "aborted",
    "rollout.rollback": "rolled back",
}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _analysis(template: AnalysisTemplate | None, name: str) -> dict:
    """What a verification step measured and what passing meant, as the template says now."""
    if template is None:
        return {"template": name, "missing": True}
    return {
        "template": template.name,
        "kind": template.kind,
        "measures": template.query if template.kind == AnalysisTemplate.Kind.PROMETHEUS else "",
        "url": template.url,
        "success_condition": template.success_condition
        if template.kind == AnalysisTemplate.Kind.PROMETHEUS
        else f"HTTP {template.expected_status}",
        "count": template.count,
        "interval_seconds": template.interval_seconds,
        "failure_limit": template.failure_limit,
        "inconclusive_limit": template.inconclusive_limit,
        "missing": False,
    }


def _step(step: RolloutStep, templates: dict[str, AnalysisTemplate]) -> dict:
    name = step.params.get("template", "") if step.kind == "analysis" else ""
    return {
        "index": step.index,
        "kind": step.kind,
        "params": step.params,
        "state": step.state,
        "message": step.message,
        "started_at": _iso(step.started_at),
        "finished_at": _iso(step.finished_at),
        "analysis": _analysis(templates.get(name), name) if name else None,
        "results": [
            {"phase": r.get("phase", ""), "value": r.get("value", ""), "at": r.get("at")}
            for r in step.results
        ],
    }


def _steering(entries: list[dict]) -> list[dict]:
    return [
        {
            "action": STEERING[entry["action"]],
            "by": entry["actor"],
            "at": entry["at"],
            "reason": (entry["after"] or {}).get("reason", ""),
            "step": (entry["after"] or {}).get("step"),
        }
        for entry in entries
        if entry["action"] in STEERING
    ]


def _record(rollout: Rollout, templates: dict, audit: list[dict]) -> dict:
    return {
        "id": rollout.pk,
        "strategy": rollout.strategy,
        "image": rollout.image,
        "previous_image": rollout.previous_image,
        "namespace": rollout.namespace,
        "cluster": rollout.cluster.name if rollout.cluster else None,
        "state": rollout.state,
        "is_rollback": rollout.is_rollback,
        "rolls_back": rollout.rolls_back_id,
        "started_by": rollout.started_by.username if rollout.started_by else "runway",
        "started_at": _iso(rollout.started_at),
        "finished_at": _iso(rollout.finished_at),
        "failure_reason": rollout.failure_reason,
        "manual_interventions": rollout.manual_interventions,
        "steps": [_step(step, templates) for step in rollout.steps.all()],
        "steering": _steering(audit),
        "audit_events": audit,
    }


def rollout_records(releases: Sequence[Release]) -> dict[int, list[dict]]:
    """Each release's rollouts, oldest first, by release id."""
    rollouts = list(
        Rollout.objects.filter(release__in=[release.pk for release in releases])
        .select_related("started_by", "cluster")
        .prefetch_related(Prefetch("steps", queryset=RolloutStep.objects.order_by("index")))
        .order_by("created_at", "id")
    )
    names = {
        step.params.get("template", "")
        for rollout in rollouts
        for step in rollout.steps.all()
        if step.kind == "analysis"
    }
    templates = {t.name: t for t in AnalysisTemplate.objects.filter(name__in=names)}
    audit = defaultdict(list)
    for event in (
        audit_events()
        .filter(target_type="rollouts.rollout", target_id__in=[str(r.pk) for r in rollouts])
        .order_by("id")
    ):
        audit[event.target_id].append(audit_event_entry(event))
    records = defaultdict(list)
    for rollout in rollouts:
        records[rollout.release_id].append(_record(rollout, templates, audit[str(rollout.pk)]))
    return records


def rollout_summary(records: list[dict]) -> str:
    """One line per release for the export's index: each rollout's outcome and who steered."""
    parts = []
    for record in records:
        state = RolloutState(record["state"]).label.lower()
        kind = "rollback" if record["is_rollback"] else record["strategy"]
        hands = [
            f"{s['action']} by {s['by']}"
            for s in record["steering"]
            if s["action"] != "started" and s["by"] != "runway"
        ]
        parts.append(
            f"#{record['id']} {kind}: {state}" + (f" ({', '.join(hands)})" if hands else "")
        )
    return "; ".join(parts) or "not rolled out"

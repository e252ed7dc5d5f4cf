"""The evidence pack of a release: who asked, who approved under which rule, what was checked
and by which CI identity, how an emergency to production got its independent approval or who
broke glass, the retrospective, and what ran when, taken from the audit log and the release's
own records. Each audit event carries its seal (number and MAC), and the pack carries a signed
checkpoint of the chain's head taken as it was exported: `manage.py audit_verify` proves both
unaltered later. The apps after releases add their sections (the rollout record) through
evidence_sections.py."""

from datetime import datetime

from django.utils import timezone

from apps.audit.checkpoints import audit_checkpoint
from apps.audit.models import AuditSeal
from apps.audit.selectors import audit_events_for
from apps.audit.services import audit_seal
from apps.releases import evidence_sections
from apps.releases.gates import SUPPLY_CHAIN, independent_approvals, readiness
from apps.releases.models import Release, ReleaseState


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _emergency(release: Release) -> dict | None:
    """How an emergency to production got past the second pair of eyes: independent approvers
    (who neither requested it nor wrote its commits) and any break glass. None otherwise."""
    if not release.needs_independent_approval:
        return None
    independent, not_counted = independent_approvals(release, timezone.now())
    glass = release.glass_broken
    return {
        "independent_approvals": [
            {"approver": a.approver.username, "at": a.created_at.isoformat()} for a in independent
        ],
        "not_counted": not_counted,
        "break_glass": None
        if glass is None
        else {
            "by": glass.actor.username,
            "at": glass.at.isoformat(),
            "reason": glass.reason,
            "paged": glass.paged,
        },
    }


def _supply_chain(release: Release) -> dict | None:
    """The verification of the artifact as Runway made it when the release started, kept with
    the start (not worked out again), in the manner of a SLSA verification summary: what was
    verified, when, against what, and each requirement's result. None when no trust policy
    covered it or it never started."""
    start = next(
        (t for t in release.transitions.all() if t.to_state == ReleaseState.IN_PROGRESS), None
    )
    if start is None:
        return None
    checks = [g for g in start.gates or [] if g["gate"].startswith(SUPPLY_CHAIN)]
    if not checks:
        return None
    return {
        "verifier": {"id": "runway"},
        "time_verified": start.at.isoformat(),
        "resource_uri": release.version,
        "verification_result": "PASSED" if all(g["passed"] for g in checks) else "FAILED",
        "checks": checks,
    }


def release_evidence(
    release: Release,
    *,
    events: list | None = None,
    checkpoint=None,
    sections: dict | None = None,
    gates_now: bool = True,
) -> dict:
    """The pack of one release. An export of many passes each release's audit `events`, its
    contributed `sections` and one `checkpoint` for them all, and leaves out the gates as they
    would be evaluated now."""
    if events is None:
        audit_seal()
        checkpoint = audit_checkpoint()
        events = list(
            audit_events_for(target_type="releases.release", target_id=release.pk)
            .select_related("seal")
            .order_by("id")
        )
    if sections is None:
        sections = evidence_sections.collect([release])[release.pk]
    pack = {
        "release": {
            "id": release.pk,
            "title": release.title,
            "service": release.service.name,
            "environment": release.environment.name,
            "version": release.version,
            "change_type": release.change_type,
            "risk": release.risk,
            "risk_reasons": release.risk_reasons,
            "state": release.state,
            "planned_start": release.planned_start.isoformat(),
            "planned_end": release.planned_end.isoformat(),
            "justification": release.justification,
        },
        "requested_by": release.requester.username,
        "commits": [
            {
                "sha": c.sha,
                "author": c.author,
                "message": c.message,
                "committed_at": c.committed_at.isoformat(),
            }
            for c in release.commits.all()
        ],
        "approvals": [
            {
                "approver": a.approver.username,
                "decision": a.decision,
                "policy": a.rule.policy.name if a.rule else None,
                "rule": a.rule.name if a.rule else None,
                "comment": a.comment,
                "at": a.created_at.isoformat(),
                "retrospective": a.is_retrospective,
                "invalidated": a.invalidated_reason or None,
                "gates": a.gates,
                "risks_confirmed": a.risks_confirmed,
            }
            for a in release.approvals.all()
        ],
        "checks": [
            {
                "name": c.name,
                "status": c.status,
                "url": c.details_url,
                "summary": c.summary,
                "reported_by": c.reported_by.username if c.reported_by else None,
                "by_service_account": bool(c.reported_by and c.reported_by.is_service_account),
                "at": c.reported_at.isoformat(),
            }
            for c in release.checks.all()
        ],
        "emergency": _emergency(release),
        "supply_chain": _supply_chain(release),
        "retrospective": {
            "state": release.retrospective_state or "not needed",
            "due_at": _iso(release.retrospective_due_at),
            "done_at": _iso(release.retrospective_done_at),
        },
        "history": [
            {
                "from": t.from_state,
                "to": t.to_state,
                "by": t.actor.username if t.actor else "runway",
                "at": t.at.isoformat(),
                "reason": t.reason,
                "gates": t.gates,
            }
            for t in release.transitions.all()
        ],
        "audit_events": [audit_event_entry(e) for e in events],
        "audit_checkpoint": checkpoint.as_dict() if checkpoint else None,
        "generated_at": timezone.now().isoformat(),
        **sections,
    }
    if gates_now:
        pack["gates_now"] = [gate.as_dict() for gate in readiness(release, now=timezone.now())]
    return pack


def audit_event_entry(event) -> dict:
    """An audit event as evidence carries it, with its place in the chain."""
    return {
        "id": event.id,
        "at": event.occurred_at.isoformat(),
        "actor": event.actor_label,
        "action": event.action,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "seal": _seal(event),
    }


def _seal(event) -> dict | None:
    try:
        return {"seq": event.seal.seq, "mac": event.seal.mac, "key_id": event.seal.key_id}
    except AuditSeal.DoesNotExist:
        return None  # written a moment ago by a transaction still committing

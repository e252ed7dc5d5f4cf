"""A train's evidence as one download: a ZIP of the train's own record (train.json: the plan as
frozen at approval, the union policy and who decided under which rule, the history and the
train's audit events with their seals) and each member release's evidence pack with its rollout
record, written by the releases' own export (apps/releases/evidence_export.py) with an
index.csv. One signed checkpoint of the audit chain, taken after sealing, covers them all.

The work is bounded: a fixed number of queries however many members (at most 200)."""

import io
import json
import zipfile

from django.utils import timezone

from apps.audit.checkpoints import audit_checkpoint
from apps.audit.selectors import audit_events_for
from apps.audit.services import audit_seal
from apps.releases.evidence import audit_event_entry
from apps.releases.evidence_export import release_pack_file, with_sections, write_release_packs
from apps.releases.models import Release
from apps.releases.policies import ApprovalStatus
from apps.releases.selectors import release_detail_queryset
from apps.trains.models import Train, TrainMember
from apps.trains.policies import train_approval_status


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def train_member_packs_queryset(train: Train):
    """The members' releases with what their packs read, by service name."""
    members = TrainMember.objects.filter(train=train).values("release_id")
    return release_detail_queryset().filter(pk__in=members).order_by("service__name", "pk")


def _union_policy(status: ApprovalStatus) -> dict:
    return {
        "policies": sorted(policy.name for policy in status.policies),
        "separation_of_duties": status.separation_of_duties,
        "rules": [
            {
                "policy": rule_status.rule.policy.name,
                "rule": rule_status.rule.name,
                "required": rule_status.rule.required_count,
                "approved_by": rule_status.approvers,
                "satisfied": rule_status.satisfied,
            }
            for rule_status in status.rules
        ],
        "summary": status.summary(),
    }


def train_record(train: Train, members: list[Release], *, events, checkpoint) -> dict:
    """The train's own part of its evidence. The union policy is evaluated as it stood when
    the train was approved (or now, for one never approved), against today's policies; each
    decision names the rule and policy it counted under as recorded then."""
    status = train_approval_status(train, members, now=train.approved_at or timezone.now())
    return {
        "train": {
            "id": train.pk,
            "name": train.name,
            "environment": train.environment_name,
            "state": train.state,
            "requested_by": train.requested_by.username,
            "max_parallel": train.max_parallel,
            "rollback_policy": train.rollback_policy,
            "created_at": _iso(train.created_at),
            "submitted_at": _iso(train.submitted_at),
            "approved_at": _iso(train.approved_at),
            "started_at": _iso(train.started_at),
            "finished_at": _iso(train.finished_at),
        },
        "plan": {"waves": train.plan, "frozen_at": _iso(train.plan_frozen_at)},
        "union_policy": _union_policy(status),
        "decisions": [
            {
                "approver": approval.approver.username,
                "decision": approval.decision,
                "policy": approval.rule.policy.name if approval.rule else None,
                "rule": approval.rule.name if approval.rule else None,
                "comment": approval.comment,
                "at": approval.created_at.isoformat(),
                "expires_at": _iso(approval.expires_at),
            }
            for approval in train.approvals.all()
        ],
        "members": [
            {
                "service": release.service.name,
                "release": release.pk,
                "version": release.version,
                "state": release.state,
                "evidence_file": release_pack_file(release),
            }
            for release in members
        ],
        "history": [
            {
                "from": step.from_state,
                "to": step.to_state,
                "by": step.actor.username if step.actor else "runway",
                "at": step.at.isoformat(),
                "reason": step.reason,
            }
            for step in train.transitions.all()
        ],
        "audit_events": [audit_event_entry(event) for event in events],
        "audit_checkpoint": checkpoint.as_dict() if checkpoint else None,
        "generated_at": timezone.now().isoformat(),
    }


def train_evidence_zip(train: Train) -> bytes:
    """The train's evidence as one ZIP. `train` comes from selectors.train_detail_queryset()."""
    members = list(train_member_packs_queryset(train))
    audit_seal()
    checkpoint = audit_checkpoint()
    events = list(audit_events_for(target_type="trains.train", target_id=train.pk).order_by("id"))
    record = train_record(train, members, events=events, checkpoint=checkpoint)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("train.json", json.dumps(record, indent=2, sort_keys=True))
        write_release_packs(archive, members, checkpoint=checkpoint)
        archive.writestr(
            "README.txt",
            f"Runway evidence: train #{train.pk} {train.name} to {train.environment_name} "
            f"({len(members)} releases).\n"
            "train.json holds the train's plan as frozen at approval, its union approval policy "
            "and who decided, its history and audit events; index.csv lists the members; "
            f"releases/ holds each member's evidence pack{with_sections()}. Each audit event "
            "carries its seal, and audit_checkpoint the signed head of the chain at export: "
            "`manage.py audit_verify` proves them unaltered.\n",
        )
    return buffer.getvalue()


def train_evidence_file_name(train: Train) -> str:
    return f"train-{train.pk}-evidence.zip"

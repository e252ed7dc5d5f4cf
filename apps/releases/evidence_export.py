"""Evidence for a period: every production release of a team (or of the organisation) planned
in a date range, as one ZIP of the releases' evidence packs (apps/releases/evidence.py) and a
CSV index an auditor opens first. The work is bounded: a range of at most a year and at most
MAX_RELEASES releases; a larger period is exported in parts."""

import csv
import io
import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.accounts.models import Team
from apps.audit.checkpoints import audit_checkpoint
from apps.audit.selectors import audit_events
from apps.audit.services import audit_seal
from apps.catalog.models import EnvironmentKind
from apps.releases import evidence_sections
from apps.releases.evidence import release_evidence
from apps.releases.models import ChangeType, Release, ReleaseState
from apps.releases.selectors import release_detail_queryset

MAX_RELEASES = 500
MAX_DAYS = 366
INDEX_COLUMNS = (
    "release", "service", "team", "environment", "version", "change type", "state",
    "requested by", "approved by", "planned start", "started", "finished", "evidence file",
)  # fmt: skip


@dataclass(frozen=True)
class EvidencePeriod:
    start: date
    end: date  # inclusive
    team: Team | None = None

    @property
    def name(self) -> str:
        scope = self.team.slug if self.team else "organisation"
        return f"runway-evidence-{scope}-{self.start:%Y%m%d}-{self.end:%Y%m%d}"


def evidence_period_check(period: EvidencePeriod) -> None:
    """Refuse a period that is backwards, longer than MAX_DAYS or out of calendar range."""
    if period.end < period.start:
        raise ValidationError({"end": "The end is before the start."})
    if (period.end - period.start).days >= MAX_DAYS:
        raise ValidationError({"end": f"Export at most {MAX_DAYS} days at once."})


def _bounds(period: EvidencePeriod) -> tuple[datetime, datetime]:
    zone = timezone.get_default_timezone()
    start = datetime.combine(period.start, time.min, zone)
    return start, datetime.combine(period.end + timedelta(days=1), time.min, zone)


def production_releases_in(period: EvidencePeriod) -> list[Release]:
    """The period's production releases, with what their packs read, oldest first; refused
    with a ValidationError on `start` when there are more than MAX_RELEASES."""
    evidence_period_check(period)
    lower, upper = _bounds(period)
    releases = release_detail_queryset().filter(
        environment__kind=EnvironmentKind.PRODUCTION,
        planned_start__gte=lower,
        planned_start__lt=upper,
    )
    if period.team is not None:
        releases = releases.filter(service__owner=period.team)
    found = list(releases.order_by("planned_start", "pk")[: MAX_RELEASES + 1])
    if len(found) > MAX_RELEASES:
        raise ValidationError(
            {"start": f"More than {MAX_RELEASES} releases in this period: export it in parts."}
        )
    return found


def evidence_zip(period: EvidencePeriod) -> tuple[bytes, int]:
    """The ZIP and how many releases it holds. Audit events are read for all releases at once,
    and one signed checkpoint of the chain covers them."""
    releases = production_releases_in(period)
    audit_seal()
    checkpoint = audit_checkpoint()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        write_release_packs(archive, releases, checkpoint=checkpoint)
        archive.writestr(
            "README.txt",
            f"Runway evidence: production releases of {period.team or 'the organisation'} "
            f"planned {period.start} to {period.end} ({len(releases)}).\n"
            "index.csv lists them; releases/ holds each release's evidence pack"
            f"{with_sections()}. Each audit event carries its seal, and audit_checkpoint the "
            "signed head of the chain at export: `manage.py audit_verify` proves them "
            "unaltered.\n",
        )
    return buffer.getvalue(), len(releases)


def release_pack_file(release: Release) -> str:
    return f"releases/release-{release.pk}.json"


def write_release_packs(archive: zipfile.ZipFile, releases: list[Release], *, checkpoint) -> None:
    """Each release's evidence pack under releases/ and index.csv listing them, for an archive
    of many (a period's, a train's). The releases come from release_detail_queryset(); their
    audit events are read at once, their contributed sections (the rollout record) in a fixed
    number of queries, and `checkpoint` (taken after sealing) covers them all."""
    events = defaultdict(list)
    for event in (
        audit_events()
        .filter(target_type="releases.release", target_id__in=[str(r.pk) for r in releases])
        .select_related("seal")
        .order_by("id")
    ):
        events[event.target_id].append(event)
    contributed = evidence_sections.collect(releases)
    summarised = [
        (section, section.summary)
        for section in evidence_sections.sections()
        if section.summary is not None
    ]
    index = io.StringIO()
    writer = csv.writer(index)
    writer.writerow([*INDEX_COLUMNS, *(section.title.lower() for section, _ in summarised)])
    for release in releases:
        pack = release_evidence(
            release,
            events=events[str(release.pk)],
            checkpoint=checkpoint,
            sections=contributed[release.pk],
            gates_now=False,
        )
        file_name = release_pack_file(release)
        archive.writestr(file_name, json.dumps(pack, indent=2, sort_keys=True))
        writer.writerow(
            [
                *_index_row(release, pack, file_name),
                *(summary(pack[section.key]) for section, summary in summarised),
            ]
        )
    archive.writestr("index.csv", index.getvalue())


def with_sections() -> str:
    titles = [
        f"{section.title.lower()} ({section.key})" for section in evidence_sections.sections()
    ]
    return f", with its {', '.join(titles)}" if titles else ""


def _index_row(release: Release, pack: dict, file_name: str) -> list[str]:
    approvers = sorted({a["approver"] for a in pack["approvals"] if a["decision"] == "approve"})
    return [
        str(release.pk),
        release.service.name,
        release.service.owner.slug,
        release.environment.name,
        release.version,
        release.get_change_type_display(),
        ReleaseState(release.state).label,
        release.requester.username,
        "; ".join(approvers) or _no_approver_reason(release),
        _iso(release.planned_start),
        _iso(release.started_at),
        _iso(release.finished_at),
        file_name,
    ]


def _no_approver_reason(release: Release) -> str:
    if release.change_type == ChangeType.STANDARD:
        return "No approval needed (standard change)"
    return "none"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""

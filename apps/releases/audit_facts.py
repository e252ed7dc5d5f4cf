"""Two parts of a release's audit record that its own columns do not hold: whether an approving
decision is on record (not invalidated afterwards), and whether the checks CI reported all
passed. The audit completeness KPI (apps/insights/kpis.py) counts them over every production
release that finished in a window: kept on the release (Release.approval_on_record and
checks_passed) once it finishes, it reads them from an index instead of looking at each
release's approvals and checks.

A finished release's checks are closed (release_check_report), and its approvals change only
when a decision is made on it afterwards (a retrospective approval): its facts are written by
the UPDATE that saves it when it finishes and after such a decision. Where they are empty (an
open release, or rows written in bulk before they were kept), `audit_fact` works them out from
the approvals and checks as it reads, so the figure never depends on their having been written.
"""

from django.db.models import BooleanField, Exists, F, OuterRef, QuerySet
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

from apps.releases.models import Approval, Release, ReleaseCheck, ReleaseState

# The states in which a release keeps its facts: those it finishes in (transitions.FINISHING;
# transitions imports this module).
FINISHED = (ReleaseState.SUCCEEDED, ReleaseState.FAILED, ReleaseState.ROLLED_BACK)


def _worked_out() -> dict[str, Combinable]:
    """Each fact as a condition on the release of the outer query."""
    release = OuterRef("pk")
    live_approval = Approval.objects.filter(
        release=release, decision=Approval.Decision.APPROVE, invalidated_at__isnull=True
    )
    unpassed_check = ReleaseCheck.objects.filter(release=release).exclude(
        status=ReleaseCheck.Status.PASSED
    )
    return {"approval_on_record": Exists(live_approval), "checks_passed": ~Exists(unpassed_check)}


def audit_fact(name: str) -> Coalesce:
    """The fact `name` of the release of the query: as kept, else worked out. The database
    evaluates the subquery only for releases that have not kept it."""
    return Coalesce(F(name), _worked_out()[name], output_field=BooleanField())


def release_save_with_audit_facts(release: Release, fields: list[str]) -> None:
    """Save `fields` of `release`; a finished release writes its facts in the same UPDATE,
    worked out by the database (no query of its own). They are then read from the row only if
    asked for."""
    facts = _worked_out() if release.state in FINISHED else {}
    for name, fact in facts.items():
        setattr(release, name, fact)
    release.save(update_fields=[*fields, *facts])
    for name in facts:
        del release.__dict__[name]  # the expression, not the value: deferred until read


def audit_facts_record(releases: QuerySet[Release]) -> int:
    """Write the facts of the finished ones of `releases` in one UPDATE (rows written in bulk,
    or a repair); how many were written."""
    return releases.filter(state__in=FINISHED).update(**_worked_out())

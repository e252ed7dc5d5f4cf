"""Import Backstage catalog descriptors into the catalog.

    report = catalog_import(actor=user, sources=[("catalog-info.yaml", text)])
    report = catalog_import(actor=None, sources=collect_from_paths(["./catalog"]), as_system=True)

Component -> Service, Group -> Team, System -> System, Resource -> Resource, API -> Api; every
other kind (Domain, User, Location, Template...) is kept verbatim as an ImportedEntity.

The import is planned in memory (planner.py: documents to planned rows and issues, no database),
then written in one transaction (writer.py) with a fixed number of bulk statements however many
entities there are: rows are upserted by name, relations are resolved against what then exists
(so forward references work) and replaced for the imported services, and services come with
their manifests and default environments as the catalog's services make them. One audit event
records the whole import.

An entity that cannot be imported is reported with its source, its document (1-based: the first
document of a file is 1) and the Backstage field at fault; the others still import. A source
that is not YAML at all (too big, unparseable, a YAML bomb) refuses the whole import before
anything is written: loader.SourceError.
"""

import uuid

from django.db import transaction

from apps.accounts import permissions
from apps.accounts.models import User
from apps.audit.services import audit_record
from apps.catalog.backstage.loader import Issue, SourceList, collect_from_paths, load_documents
from apps.catalog.backstage.planner import plan_import
from apps.catalog.backstage.report import ImportReport
from apps.catalog.backstage.writer import write_import

__all__ = ["ImportReport", "Issue", "SourceList", "catalog_import", "collect_from_paths"]

NAMES_IN_AUDIT = 200


def catalog_import(
    *, actor: User | None, sources: list[tuple[str, str]], as_system: bool = False
) -> ImportReport:
    """Import Backstage YAML sources, (label, text) pairs; see the module docstring.

    Platform admins import anything. Developers import Components, Resources and APIs owned by
    teams they act for; everything else is reported per entity. Others may not import at all
    (PermissionDenied). `as_system=True` is Runway itself: the import_backstage command.
    """
    if not as_system:
        permissions.require(
            permissions.can_create_services(actor),
            "Only developers in a team and platform admins import catalog files.",
        )
    report = ImportReport(import_id=uuid.uuid4().hex[:12], sources=[label for label, _ in sources])
    report.warnings.extend(getattr(sources, "warnings", ()))
    documents = [doc for label, text in sources for doc in load_documents(label, text)]
    admin = as_system or permissions.is_platform_admin(actor)
    plan = plan_import(documents, admin=admin)
    report.errors.extend(plan.errors)
    report.warnings.extend(plan.warnings)
    report.skipped_documents = plan.skipped_documents
    with transaction.atomic():
        write_import(plan, actor=actor, admin=admin, report=report)
        audit_record(
            actor=actor,
            action="catalog.import",
            target_type="catalog.import",
            target_id=report.import_id,
            target_label=", ".join(report.sources)[:255],
            after={
                "sources": report.sources[:NAMES_IN_AUDIT],
                "counts": report.counts,
                "created": {k: v[:NAMES_IN_AUDIT] for k, v in sorted(report.created.items())},
                "updated": {k: v[:NAMES_IN_AUDIT] for k, v in sorted(report.updated.items())},
                "relations": report.relations,
                "errors": len(report.errors),
                "warnings": len(report.warnings),
            },
        )
    order = {label: position for position, label in enumerate(report.sources)}
    for issues in (report.errors, report.warnings):
        issues.sort(key=lambda issue: (order.get(issue.source, -1), issue.document or 0))
    return report

"""python manage.py import_backstage PATH [PATH ...]: import Backstage catalog files or folders,
following their Locations, as Runway itself. Exits non-zero if any entity could not be imported."""

from django.core.management.base import BaseCommand, CommandError

from apps.catalog.backstage.importer import ImportReport, catalog_import, collect_from_paths
from apps.catalog.backstage.loader import SourceError


class Command(BaseCommand):
    help = "Import Backstage catalog-info files (files or folders; Locations are followed)."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="catalog-info.yaml files or folders")

    def handle(self, *args, paths: list[str], **options):
        try:
            sources = collect_from_paths(paths)
            report = catalog_import(actor=None, sources=sources, as_system=True)
        except SourceError as exc:
            raise CommandError(f"Nothing imported. {exc}") from None
        self.print_report(report)
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} error(s): the entities named above were not imported."
            )

    def print_report(self, report: ImportReport) -> None:
        out = self.stdout
        out.write(f"Import {report.import_id}: {len(report.sources)} file(s) read.")
        for kind, counts in report.counts.items():
            out.write(f"  {kind}: {counts['created']} created, {counts['updated']} updated")
        relations = ", ".join(f"{n} {name}" for name, n in report.relations.items() if n)
        if relations:
            out.write(f"  relations: {relations}")
        for title, issues, style in (
            ("Warnings", report.warnings, self.style.WARNING),
            ("Errors", report.errors, self.style.ERROR),
        ):
            if issues:
                out.write(style(f"{title} ({len(issues)}), documents numbered from 1:"))
            for issue in issues:
                where = (
                    f"{issue.source}, document {issue.document}" if issue.document else issue.source
                )
                field = f", {issue.field}" if issue.field else ""
                out.write(style(f"  {where}{field}: {issue.message}"))
        if report.ok:
            out.write(self.style.SUCCESS("Imported without errors."))

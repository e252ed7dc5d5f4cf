from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import AuditEvent
from apps.audit.verification import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit non-zero at the first altered row."

    def handle(self, *args, **options):
        report = audit_chain_verify()
        if report.intact:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Audit log intact: {report.rows_checked} events, chain head {report.head}"
                )
            )
            return
        event = AuditEvent.objects.filter(pk=report.first_bad_id).first()
        described = (
            f"{event.action} by {event.actor_label} at {event.occurred_at:%Y-%m-%d %H:%M:%S%z}"
        )
        raise CommandError(
            f"Audit log altered at event {report.first_bad_id} ({described}): {report.problem}. "
            f"{report.rows_checked} events before it are intact."
        )

from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import AuditEvent
from apps.audit.services import audit_seal
from apps.audit.verification import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Verify the audit log: every seal in order and matching its event, no event outside the "
        "chain, every signed checkpoint still matching. Exits non-zero at the first problem."
    )

    def handle(self, *args, **options):
        audit_seal()  # what is committed but not sealed yet is not a problem, only late
        report = audit_chain_verify()
        if report.intact:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Audit log intact: {report.rows_checked} sealed events, "
                    f"{report.checkpoints_checked} checkpoint(s) match, chain head {report.head}"
                )
            )
            return
        if report.first_bad_id is None:
            raise CommandError(f"Audit log altered: {report.problem}.")
        event = AuditEvent.objects.filter(pk=report.first_bad_id).first()
        described = (
            f"{event.action} by {event.actor_label} at {event.occurred_at:%Y-%m-%d %H:%M:%S%z}"
            if event
            else "removed"
        )
        raise CommandError(
            f"Audit log altered at event {report.first_bad_id} ({described}): {report.problem}. "
            f"{report.rows_checked} events before it are intact."
        )

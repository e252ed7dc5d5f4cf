from django.core.management.base import BaseCommand

from apps.audit.checkpoints import audit_checkpoint
from apps.audit.services import audit_seal


class Command(BaseCommand):
    help = "Seal what is pending and append a signed checkpoint of the audit chain's head."

    def handle(self, *args, **options):
        audit_seal()
        checkpoint = audit_checkpoint()
        if checkpoint is None:
            self.stdout.write("The audit log is empty: nothing to sign.")
            return
        self.stdout.write(f"Checkpoint: {checkpoint.seq} sealed events, head {checkpoint.mac}")

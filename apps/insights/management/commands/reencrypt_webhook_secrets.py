from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.insights import services


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored webhook secret under the first key of RUNWAY_ENCRYPTION_KEY. "
        "Run it after putting a new key in front of the list; then the old key can be removed."
    )

    def handle(self, *args, **options):
        try:
            count = services.webhook_secrets_reencrypt()
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Webhook sources re-encrypted: {count}")

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Team, User
from apps.accounts.services import service_account_create


class Command(BaseCommand):
    help = (
        "Create a service account (CI's identity) that reports release checks for the given "
        "teams, with its first API token. Prints the token once: store it in CI's secrets."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="e.g. ci-payments")
        parser.add_argument(
            "--team", action="append", required=True, help="A team slug; repeat for more."
        )
        parser.add_argument(
            "--actor", required=True, help="The platform admin creating it (for the audit log)."
        )
        parser.add_argument("--token-name", default="ci")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, username, team, actor, token_name, expires_in_days, **options):
        admin = User.objects.filter(username=actor, is_active=True).first()
        if admin is None:
            raise CommandError(f"No active user is called {actor!r}.")
        teams = list(Team.objects.filter(slug__in=team))
        missing = sorted(set(team) - {t.slug for t in teams})
        if missing:
            raise CommandError(f"No team is called {', '.join(missing)}.")
        try:
            account, token, key = service_account_create(
                actor=admin,
                username=username,
                teams=teams,
                token_name=token_name,
                expires_in_days=expires_in_days,
            )
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(
            f"Service account {account.username} reports checks for "
            f"{', '.join(sorted(t.slug for t in teams))}. Its token “{token.name}” follows; "
            "it is shown once."
        )
        self.stdout.write(key)

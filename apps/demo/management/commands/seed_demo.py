"""Demo data for `make run`: each app's demo module, in the order the apps are layered."""

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts import demo as accounts_demo
from apps.audit.services import audit_record
from apps.catalog import demo as catalog_demo
from apps.insights import demo as insights_demo
from apps.insights.scorecards.services import scorecard_snapshots_take
from apps.insights.services.runway import release_transitions_record_all
from apps.releases import demo as releases_demo
from apps.rollouts import demo as rollouts_demo


class Command(BaseCommand):
    help = (
        "Load demo teams, users (one per role), services, releases and months of delivery "
        "history. Idempotent."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        created = accounts_demo.load()
        created += catalog_demo.load()
        created += releases_demo.load()
        created += rollouts_demo.load()
        created += insights_demo.load()  # months of history
        # The other demos' finished releases: their tasks go out only after this commits.
        release_transitions_record_all()
        scorecard_snapshots_take()  # today's scores, kept as this week's snapshot
        if created:
            audit_record(
                actor=None,
                action="demo.seed",
                target_type="runway.demo",
                target_id="demo",
                target_label="Demo data",
                after={"created": created},
            )
        self.stdout.write(f"Demo data ready ({len(created)} new records).")

"""Demo data for `make run`: apps.demo's modules, in the order the apps are layered."""

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.audit.services import audit_record
from apps.demo import (
    history,
    organisation,
    releases_in_flight,
    rings,
    rollouts_to_dev,
    supply_chain,
    trains,
)
from apps.insights.scorecards.services import scorecard_snapshots_take
from apps.insights.services.runway import release_transitions_record_all


class Command(BaseCommand):
    help = (
        "Load demo teams, users (one per role), services, releases and months of delivery "
        "history. Idempotent."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        created = organisation.load()
        created += releases_in_flight.load()
        created += supply_chain.load()
        created += trains.load()
        created += rollouts_to_dev.load()
        created += history.load()  # months of history, before the backfill adds the rest
        created += rings.load()  # after the history: no release of search-api is in progress
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

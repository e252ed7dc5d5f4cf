from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Max, Min
from django.utils import timezone

from apps.insights import services
from apps.insights.models import DeploymentFact
from apps.insights.selectors import local_day


class Command(BaseCommand):
    help = (
        "Record every finishing transition of a Runway release not recorded yet as a deployment "
        "fact, then rebuild the daily roll-up over all facts. Idempotent: run it after installing "
        "the reports app."
    )

    def handle(self, *args, **options):
        recorded = services.release_transitions_record_all()
        self.stdout.write(f"Release transitions recorded: {recorded}")
        span = DeploymentFact.objects.aggregate(first=Min("finished_at"), last=Max("finished_at"))
        if span["first"] is None:
            self.stdout.write("No deployment facts yet: nothing to roll up.")
            return
        start = local_day(span["first"])
        end = max(local_day(span["last"]), local_day(timezone.now()))
        rows = 0
        # A year at a time keeps each transaction (and its lock on the roll-up) short.
        while start <= end:
            stop = min(start + timedelta(days=365), end)
            rows += services.rollup_refresh(start=start, end=stop)
            start = stop + timedelta(days=1)
        self.stdout.write(f"Roll-up rows written: {rows}")

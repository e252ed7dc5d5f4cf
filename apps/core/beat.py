"""Celery beat that sends each periodic task once per period, however many beat processes run.

Beat is meant to run once (the Kubernetes manifests run one replica with the Recreate strategy),
but a rolling deploy, a second `make run` or an operator's mistake can start another, and every
periodic task would then run twice. So before sending an entry, a beat claims its period in the
database: a conditional UPDATE (or the first INSERT) that only one process can win. The period
is measured on the database's clock, which every beat shares, however far their own clocks
drift apart.
"""

import logging
from datetime import timedelta

from celery.beat import PersistentScheduler
from celery.schedules import schedule as interval_schedule
from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import DateTimeField, ExpressionWrapper
from django.db.models.functions import Now

logger = logging.getLogger(__name__)

# A claim holds for this share of an interval: room for two beats' ticks to drift apart by a
# tenth of it, and for one beat's tick to come late, without a period sent twice or skipped.
CLAIM_SHARE = 0.9
# Crontab entries run at most once a minute, at the same minute in every beat.
CRONTAB_CLAIM = timedelta(seconds=50)


def claim_window(entry_schedule) -> timedelta:
    if isinstance(entry_schedule, interval_schedule):
        return timedelta(seconds=entry_schedule.seconds * CLAIM_SHARE)
    return CRONTAB_CLAIM


def claim(name: str, window: timedelta) -> bool:
    """True for the one process that claims `name`'s period, which began `window` ago at most."""
    from apps.core.models import BeatClaim

    cutoff = ExpressionWrapper(Now() - window, output_field=DateTimeField())
    if BeatClaim.objects.filter(name=name, claimed_at__lte=cutoff).update(claimed_at=Now()):
        return True
    try:
        with transaction.atomic():
            BeatClaim.objects.create(name=name, claimed_at=Now())
    except IntegrityError:
        return False  # claimed this period already, by this beat or another
    return True


class ClaimingScheduler(PersistentScheduler):
    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        close_old_connections()  # beat lives long: never claim on a connection gone stale
        try:
            claimed = claim(entry.name, claim_window(entry.schedule))
        finally:
            close_old_connections()
        if not claimed:
            logger.info("Beat: %s was sent this period by another beat", entry.name)
            if advance:
                self.reserve(entry)
            return None
        return super().apply_async(entry, producer, advance, **kwargs)

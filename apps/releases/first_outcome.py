"""The first start attempt's supply-chain outcome (Release.supply_chain_first_passed), what
the security gate pass rate counts: recorded by release_begin, and kept when the start that
found it is refused and rolled back (rollout_start, a train's member start)."""

import functools
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.releases.gates import Gate, supply_chain_passed
from apps.releases.models import Release

_P = ParamSpec("_P")
_R = TypeVar("_R")


def first_outcome_record(release: Release, gates: list[Gate], at: datetime) -> None:
    """Keep the first start attempt's supply-chain outcome on the release, once (see its
    fields), in the attempt's transaction (release_begin); set on `release` too, for
    release_supply_chain_outcome_keep."""
    first_outcomes_record([(release, gates)], at)


def first_outcomes_record(attempts: list[tuple[Release, list[Gate]]], at: datetime) -> None:
    """first_outcome_record for many start attempts at once, each (release, gates): at most
    two queries whatever their number."""
    by_outcome: dict[bool, list[Release]] = {True: [], False: []}
    for release, gates in attempts:
        passed = supply_chain_passed(gates)
        if release.supply_chain_first_at is not None or passed is None:
            continue
        release.supply_chain_first_passed, release.supply_chain_first_at = passed, at
        by_outcome[passed].append(release)
    for passed, releases in by_outcome.items():
        if releases:
            Release.objects.filter(
                pk__in=[release.pk for release in releases], supply_chain_first_at__isnull=True
            ).update(supply_chain_first_passed=passed, supply_chain_first_at=at)


class StartHeld(ValidationError):
    """A start its gates refused: release_begin held `release`, which carries the first
    supply-chain outcome release_begin set on it."""

    def __init__(self, message: str, *, release: Release) -> None:
        super().__init__(message)
        self.release = release


def release_supply_chain_outcome_keep(*, release: Release) -> None:
    """Write again, in a transaction of its own, the first supply-chain outcome of a start that
    was refused and rolled back. A refused start rolls back with the request that tried it
    (its hold too), yet its outcome is what the security gate pass rate counts: keeping it on
    the release after the rollback is simpler than a table of attempts, and the conditional
    update keeps it write-once, even against a racing attempt."""
    if release.supply_chain_first_at is None:
        return
    with transaction.atomic():
        Release.objects.filter(pk=release.pk, supply_chain_first_at__isnull=True).update(
            supply_chain_first_passed=release.supply_chain_first_passed,
            supply_chain_first_at=release.supply_chain_first_at,
        )


def keeps_supply_chain_outcome(service: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap a start service that raises StartHeld inside its transaction: once that has rolled
    back, keep the first supply-chain outcome (release_supply_chain_outcome_keep)."""

    @functools.wraps(service)
    def attempt(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return service(*args, **kwargs)
        except StartHeld as held:
            release_supply_chain_outcome_keep(release=held.release)
            raise

    return attempt

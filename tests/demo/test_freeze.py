"""The demo's year-end freeze never covers the demo's own releases, whatever the day it is
loaded: a release planned into a freeze is refused at submission, and seeding would fail."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.demo.releases_in_flight import DEMO_RELEASES_AHEAD, year_end_freeze


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 6, 1, tzinfo=UTC),
        datetime(2026, 12, 12, tzinfo=UTC),
        datetime(2026, 12, 14, 12, tzinfo=UTC),
        datetime(2026, 12, 25, tzinfo=UTC),
        datetime(2027, 1, 2, tzinfo=UTC),
        datetime(2027, 1, 10, tzinfo=UTC),
    ],
)
def test_the_freeze_starts_after_the_demos_releases(now):
    starts_at, ends_at = year_end_freeze(now)
    assert starts_at >= now + DEMO_RELEASES_AHEAD
    assert (starts_at.month, starts_at.day, ends_at.month, ends_at.day) == (12, 20, 1, 4)
    assert ends_at - starts_at == timedelta(days=15)


def test_it_is_this_years_freeze_while_it_is_far_enough_ahead():
    assert year_end_freeze(datetime(2026, 12, 12, tzinfo=UTC))[0].year == 2026
    assert year_end_freeze(datetime(2026, 12, 14, tzinfo=UTC))[0].year == 2027

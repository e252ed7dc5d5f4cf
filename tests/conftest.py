"""Shared fixtures: the personas every test speaks of, and the guard that keeps CI honest."""

import os

import pytest
from django.core.cache import cache
from django.db.backends.signals import connection_created
from django.test import TransactionTestCase

from apps.accounts.models import Role
from tests import databases
from tests.factories import PASSWORD, ServiceAccountFactory, TeamFactory, UserFactory
from tests.processes import POLL_MILLISECONDS

# Release fixtures (a service with three environments, a production policy, ...), trains', the
# golden path, and real processes (brokers, the simulator, Celery workers) serve several test
# packages.
pytest_plugins = [
    "tests.releases.fixtures",
    "tests.trains.fixtures",
    "tests.onboarding.fixtures",
    "tests.processes",
]


def pytest_configure(config):
    from django.conf import settings

    # Tests need a password hash, not its strength: PBKDF2's million rounds take 0.6 s a user
    # here, and most tests make a few.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The simulator's pods are ready in a fraction of a second (tests/processes.py): a rollout
    # asks it how its change goes four times a second rather than once.
    settings.ROLLOUT_POLL_MILLISECONDS = POLL_MILLISECONDS
    # WhiteNoise finds a static file when asked rather than listing every app's at start: the
    # test client starts the middleware afresh for each test.
    settings.WHITENOISE_AUTOREFRESH = True
    # Personas sign in without an authenticator app; tests/accounts/test_mfa_required.py turns
    # the requirement on.
    settings.MFA_REQUIRED_ROLES = []
    # Transactional tests empty the database between tests with TRUNCATE, which the audit
    # tables refuse unless their owner asks on purpose (apps/audit/migrations/0002).
    connection_created.connect(_allow_truncating_the_audit_log)
    # A transactional test empties the tables it wrote to, not every table (tests/databases.py).
    TransactionTestCase._fixture_teardown = databases.quicker_fixture_teardown(
        TransactionTestCase._fixture_teardown
    )

    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("CI") and "postgresql" not in engine:
        pytest.exit(
            "CI must test against PostgreSQL: set DATABASE_URL (make test does). "
            f"Refusing to fall back to {engine}.",
            returncode=2,
        )


# Under pytest-xdist (`make test` runs `--dist worksteal`) each worker first takes an equal,
# contiguous share of the collection, and a worker that runs dry takes pending tests from the
# end of another's share. The long tests (seconds each, as measured on a quiet machine) go to
# the front of the shares, one heavy share per worker, so that they start at once instead of
# queueing behind each other on one worker.
_LONG_TESTS = {
    "tests/integration/test_rollout_drills.py::test_twenty_rollouts": 150,
    "tests/integration/test_outage_drill.py": 60,
    "tests/api/test_schema_fuzz.py": 25,
    "tests/integration/test_rollout_drills.py": 15,
    "tests/integration/test_broker_restart.py": 13,
    "tests/integration/": 6,
}


def _expected_seconds(item) -> int:
    return next((s for prefix, s in _LONG_TESTS.items() if item.nodeid.startswith(prefix)), 0)


def pytest_collection_modifyitems(config, items):
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    long_tests = sorted((i for i in items if _expected_seconds(i)), key=_expected_seconds)
    others = [i for i in items if not _expected_seconds(i)]
    # Longest first, each to the share with the least long work so far.
    shares: list[list] = [[] for _ in range(workers)]
    for item in reversed(long_tests):
        min(shares, key=lambda share: sum(map(_expected_seconds, share))).append(item)
    # xdist's first split: the i-th worker takes len(pending) // (workers - i) of what is left.
    ordered, left = [], len(items)
    for index, share in enumerate(shares):
        size = left // (workers - index)
        left -= size
        fill = max(0, size - len(share))
        ordered += share + others[:fill]
        others = others[fill:]
    items[:] = ordered + others


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Test databases on PostgreSQL are copies of one migrated template (tests/databases.py)."""
    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"] == "django.db.backends.postgresql":
        database["TEST"]["TEMPLATE"] = databases.migrated_template(database)


def _allow_truncating_the_audit_log(sender, connection, **kwargs):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET runway.audit_truncate = 'on'")


@pytest.fixture(autouse=True)
def _audit_checkpoints_in_a_temporary_file(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.jsonl"


@pytest.fixture(autouse=True)
def _clear_cache():
    # Sign-in rate limits live in the cache; one test's failures must not throttle the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def payments(db):
    return TeamFactory(slug="payments", name="Payments")


@pytest.fixture
def search(db):
    return TeamFactory(slug="search", name="Search")


@pytest.fixture
def developer(payments):
    return UserFactory(username="dana", roles=[Role.DEVELOPER], teams=[payments])


@pytest.fixture
def other_developer(search):
    return UserFactory(username="sam", roles=[Role.DEVELOPER], teams=[search])


@pytest.fixture
def release_manager(db):
    return UserFactory(username="riley", roles=[Role.RELEASE_MANAGER])


@pytest.fixture
def leadership(db):
    return UserFactory(username="lee", roles=[Role.LEADERSHIP])


@pytest.fixture
def platform_admin(db):
    return UserFactory(username="ada", roles=[Role.PLATFORM_ADMIN])


@pytest.fixture
def ci(payments):
    """The payments team's CI: a service account that reports checks for payments."""
    return ServiceAccountFactory(username="ci-payments", reports_for=[payments])


@pytest.fixture
def outsider(db):
    """Signed in, but with no role and no team."""
    return UserFactory(username="olly")


@pytest.fixture
def client_as(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def api_as(api_client):
    """The API client, signed in as the given user."""

    def sign_in(user):
        api_client.force_login(user)
        return api_client

    return sign_in


@pytest.fixture
def move_clock(tmp_path, settings):
    """Move Runway's clock forward (apps/core/clock.py), in this process and in any worker
    started with RUNWAY_CLOCK_OFFSET_FILE set to `move_clock.file`."""
    offset = tmp_path / "clock-offset"
    offset.write_text("0")
    settings.RUNWAY_CLOCK_OFFSET_FILE = str(offset)

    def move(seconds: float) -> None:
        offset.write_text(str(float(offset.read_text()) + seconds))

    move.file = offset
    return move

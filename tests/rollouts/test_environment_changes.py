"""An environment's cluster and replicas stay as they are while a rollout there is active: the
rollout runs with the values it started with. Its soak and auto-promotion change any time."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from apps.audit.models import AuditEvent
from apps.catalog import environments
from apps.catalog.environments import environment_update
from apps.catalog.models import Cluster, Environment
from apps.core.exceptions import Conflict
from apps.rollouts import services
from apps.rollouts.models import ACTIVE_STATES, FINISHED_STATES, Rollout, RolloutState
from tests.rollouts.builders import rollout_row
from tests.rollouts.executing import release_of

URL = "/api/v1/services/web/environments/staging/"


@pytest.fixture
def staging(web):
    return web.environments.get(name="staging")


@pytest.fixture
def east(db):
    return Cluster.objects.create(name="east")


@pytest.fixture
def rollout_in(web, developer):
    def make(environment, state=RolloutState.RUNNING):
        return rollout_row(service=web, environment=environment, requester=developer, state=state)

    return make


@pytest.mark.django_db
@pytest.mark.parametrize("state", ACTIVE_STATES)
@pytest.mark.parametrize("field", ["cluster", "replicas"])
def test_the_cluster_or_replicas_do_not_change_under_an_active_rollout(
    staging, developer, east, rollout_in, state, field
):
    rollout = rollout_in(staging, state)
    change = {"cluster": east, "replicas": 4}[field]

    with pytest.raises(Conflict) as error:
        environment_update(actor=developer, environment=staging, **{field: change})

    assert f"Rollout #{rollout.pk} to staging" in error.value.message_dict[field][0]
    saved = Environment.objects.get(pk=staging.pk)
    assert (saved.cluster, saved.replicas) == (None, 1)
    assert not AuditEvent.objects.filter(action="environment.update").exists()


@pytest.mark.django_db
def test_the_soak_and_auto_promotion_change_under_an_active_rollout(staging, developer, rollout_in):
    rollout_in(staging)

    environment_update(actor=developer, environment=staging, soak_seconds=600, auto_promote=True)

    saved = Environment.objects.get(pk=staging.pk)
    assert (saved.soak_seconds, saved.auto_promote) == (600, True)


@pytest.mark.django_db
@pytest.mark.parametrize("state", FINISHED_STATES)
def test_a_finished_rollout_or_one_elsewhere_holds_nothing_back(
    web, staging, developer, east, rollout_in, state
):
    rollout_in(staging, state)
    rollout_in(web.environments.get(name="dev"))  # active, in another environment

    environment_update(actor=developer, environment=staging, cluster=east, replicas=3)

    saved = Environment.objects.get(pk=staging.pk)
    assert (saved.cluster, saved.replicas) == (east, 3)


@pytest.mark.django_db
def test_setting_the_values_it_already_has_is_no_change_and_not_refused(
    staging, developer, rollout_in
):
    rollout_in(staging)

    environment_update(actor=developer, environment=staging, replicas=1, cluster=None)


@pytest.mark.django_db
def test_a_bad_value_is_a_400_before_any_conflict(staging, developer, rollout_in):
    rollout_in(staging)

    with pytest.raises(ValidationError) as error:
        environment_update(actor=developer, environment=staging, replicas=0)
    assert not isinstance(error.value, Conflict)


@pytest.mark.django_db
def test_the_api_answers_409_naming_the_rollout(api_as, developer, staging, rollout_in):
    rollout = rollout_in(staging)

    response = api_as(developer).patch(URL, {"replicas": 3}, format="json")

    assert response.status_code == 409
    assert f"Rollout #{rollout.pk}" in response.json()["detail"]
    assert Environment.objects.get(pk=staging.pk).replicas == 1


@pytest.mark.django_db
def test_the_page_shows_the_refusal_next_to_the_field(client_as, developer, staging, rollout_in):
    rollout = rollout_in(staging)

    response = client_as(developer).post(
        "/catalog/services/web/environments/staging/edit/",
        {"replicas": "3", "soak_seconds": "0"},
    )

    assert response.status_code == 200
    assert f"Rollout #{rollout.pk} to staging is running" in response.content.decode()
    assert Environment.objects.get(pk=staging.pk).replicas == 1


@pytest.mark.django_db(transaction=True)
def test_a_rollout_starting_while_the_replicas_change_waits_and_runs_with_the_new_ones(
    shop, developer, monkeypatch
):
    """The edit holds the environment's row from its check to its commit; a rollout starting
    meanwhile reads the environment under a lock too, so it waits and takes the new values
    (were it to take the old ones, it would run with replicas the environment no longer has)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks and concurrent connections")
    service = shop("rolling", replicas=2)
    dev = service.environments.get(name="dev")
    release = release_of(service, "shop:1", actor=developer)
    checked, go_on, outcome = threading.Event(), threading.Event(), {}

    def pausing_guard(environment, fields) -> str:
        checked.set()  # the edit holds the lock and found no rollout: now one starts
        go_on.wait(30)
        return ""

    monkeypatch.setattr(environments, "_guards", [*environments._guards, pausing_guard])

    def in_thread(name, call):
        def run():
            try:
                outcome[name] = call()
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    edit = in_thread(
        "edit", lambda: environment_update(actor=developer, environment=dev, replicas=3)
    )
    assert checked.wait(30)
    start = in_thread("start", lambda: services.rollout_start(actor=developer, release=release))
    _wait_until_a_query_waits_for_a_lock()
    go_on.set()
    edit.join(30)
    start.join(30)

    assert Environment.objects.get(pk=dev.pk).replicas == 3
    assert Rollout.objects.get(pk=outcome["start"].pk).replicas == 3


def _wait_until_a_query_waits_for_a_lock() -> None:
    with connection.cursor() as cursor:
        for _ in range(300):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            threading.Event().wait(0.05)
    raise AssertionError("the rollout's start never waited for the edit's lock")


@pytest.mark.django_db
def test_the_replicas_do_not_change_while_a_release_soaks_between_its_rings(
    staging, developer, rollout_in
):
    from django.utils import timezone

    soaking = rollout_in(staging, RolloutState.SUCCEEDED)
    Rollout.objects.filter(pk=soaking.pk).update(ring=0, next_ring_at=timezone.now())

    with pytest.raises(Conflict) as error:
        environment_update(actor=developer, environment=staging, replicas=4)

    assert "between two of its rings" in error.value.message_dict["replicas"][0]
    assert Environment.objects.get(pk=staging.pk).replicas == 1

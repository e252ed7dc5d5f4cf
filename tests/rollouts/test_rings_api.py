"""Setting an environment's rings through the API: who may, what is refused (naming the field),
and that two ring starts at once start one rollout."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.catalog.models import MAX_SOAK_SECONDS, Cluster
from apps.core.exceptions import Conflict
from apps.releases.models import Release, ReleaseState
from apps.rollouts import rings, services
from apps.rollouts.models import Ring, Rollout, RolloutState
from tests.rollouts.builders import rollout_row

URL = "/api/v1/services/web/environments/prod/rings/"


@pytest.fixture
def clusters(db):
    return [Cluster.objects.create(name=name) for name in ("eu-1", "eu-2", "us-1")]


def put(client, *rings_):
    return client.put(URL, {"rings": list(rings_)}, format="json")


def saved() -> list[tuple[int, str, int]]:
    return list(
        Ring.objects.filter(environment__name="prod").values_list(
            "position", "cluster__name", "soak_seconds"
        )
    )


@pytest.mark.django_db
def test_an_editor_sets_the_rings_in_order_and_the_change_is_audited(
    api_as, developer, prod, clusters
):
    response = put(
        api_as(developer),
        {"cluster": "eu-2", "soak_seconds": 1800},
        {"cluster": "eu-1"},
    )

    assert response.status_code == 200, response.json()
    assert response.json()["rings"] == [
        {"position": 0, "cluster": "eu-2", "soak_seconds": 1800},
        {"position": 1, "cluster": "eu-1", "soak_seconds": 0},
    ]
    assert saved() == [(0, "eu-2", 1800), (1, "eu-1", 0)]
    event = AuditEvent.objects.get(action="environment.rings_set")
    assert event.target_id == str(prod.pk) and event.before == {"rings": []}
    assert event.after["rings"][0] == {"cluster": "eu-2", "soak_seconds": 1800}
    assert api_as(developer).get(URL).json() == response.json()


@pytest.mark.django_db
def test_an_empty_list_removes_the_rings(api_as, developer, prod, clusters):
    client = api_as(developer)
    put(client, {"cluster": "eu-1"}, {"cluster": "eu-2"})

    assert put(client).status_code == 200
    assert saved() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rings_", "field"),
    [
        ([{"cluster": "nowhere"}], "cluster"),
        ([{"cluster": "eu-1"}, {"cluster": "eu-1"}], "cluster"),
        ([{"cluster": "eu-1", "soak_seconds": MAX_SOAK_SECONDS + 1}], "soak_seconds"),
        ([{"cluster": "eu-1", "soak_seconds": -1}], "soak_seconds"),
        ([{"soak_seconds": 10}], "cluster"),
    ],
    ids=["unknown-cluster", "duplicate", "huge-soak", "negative-soak", "no-cluster"],
)
def test_bad_rings_are_refused_naming_the_field_and_nothing_is_saved(
    api_as, developer, prod, clusters, rings_, field
):
    response = put(api_as(developer), *rings_)

    assert response.status_code == 400
    assert field in str(response.json())
    assert saved() == []
    assert not AuditEvent.objects.filter(action="environment.rings_set").exists()


@pytest.mark.django_db
def test_more_than_ten_rings_are_refused(api_as, developer, prod):
    many = [Cluster.objects.create(name=f"c-{n}") for n in range(11)]

    response = put(api_as(developer), *({"cluster": c.name} for c in many))

    assert response.status_code == 400 and "rings" in response.json()
    assert saved() == []


@pytest.mark.django_db
def test_the_rings_do_not_change_while_a_release_to_the_environment_is_in_progress(
    api_as, developer, web, prod, clusters
):
    rollout_row(service=web, environment=prod, requester=developer, state=RolloutState.RUNNING)

    response = put(api_as(developer), {"cluster": "eu-1"})

    assert response.status_code == 409
    assert "in progress" in str(response.json())
    assert saved() == []


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["other_developer", "outsider", "release_manager"])
def test_only_the_owning_team_and_platform_admins_set_rings(
    request, api_as, prod, clusters, persona
):
    client = api_as(request.getfixturevalue(persona))

    assert put(client, {"cluster": "eu-1"}).status_code == 403
    assert put(client, {"cluster": "nowhere"}).status_code == 403  # asked before the body
    assert saved() == []


@pytest.mark.django_db
def test_a_platform_admin_sets_rings_of_any_service(api_as, platform_admin, prod, clusters):
    assert put(api_as(platform_admin), {"cluster": "eu-1"}).status_code == 200
    assert saved() == [(0, "eu-1", 0)]


@pytest.mark.django_db
def test_an_unknown_environment_is_a_404(api_as, developer, web):
    response = api_as(developer).put(
        "/api/v1/services/web/environments/nowhere/rings/", {"rings": []}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_ring_starts_at_once_start_one_rollout(developer, web, prod, clusters):
    rings.environment_rings_set(
        actor=developer,
        environment=prod,
        rings=[{"cluster": clusters[0]}, {"cluster": clusters[1]}],
    )
    ring0 = rollout_row(
        service=web,
        environment=prod,
        requester=developer,
        state=RolloutState.SUCCEEDED,
        ring=0,
        cluster=clusters[0],
        next_ring_at=timezone.now() - timedelta(seconds=1),
    )
    ring0.release.__class__.objects.filter(pk=ring0.release_id).update(
        state=ReleaseState.IN_PROGRESS
    )
    barrier, outcomes = threading.Barrier(2), []

    def start():
        try:
            barrier.wait()
            outcomes.append(rings.ring_start_next(rollout_id=ring0.pk))
        except ValidationError as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ring1 = Rollout.objects.get(release=ring0.release, ring=1)
    assert ring1.cluster == clusters[1]
    assert sorted(outcomes, key=str) == sorted([ring1, None], key=str)
    assert Rollout.objects.filter(release=ring0.release).count() == 2


@pytest.mark.django_db
def test_the_service_itself_refuses_someone_outside_the_owning_team(
    other_developer, prod, clusters
):
    with pytest.raises(PermissionDenied):
        rings.environment_rings_set(
            actor=other_developer, environment=prod, rings=[{"cluster": clusters[0]}]
        )
    assert saved() == []


@pytest.mark.django_db
def test_another_release_waits_while_one_soaks_between_its_rings(
    developer, web, prod, clusters, make_release
):
    rings.environment_rings_set(
        actor=developer,
        environment=prod,
        rings=[{"cluster": clusters[0]}, {"cluster": clusters[1]}],
    )
    soaking = rollout_row(
        service=web,
        environment=prod,
        requester=developer,
        state=RolloutState.SUCCEEDED,
        ring=0,
        cluster=clusters[0],
        next_ring_at=timezone.now() + timedelta(hours=1),
    )
    Release.objects.filter(pk=soaking.release_id).update(state=ReleaseState.IN_PROGRESS)
    later = make_release(prod, hours_from_now=-1)
    Release.objects.filter(pk=later.pk).update(state=ReleaseState.IN_PROGRESS)

    assert services.rollouts_dispatch() == []
    with pytest.raises(Conflict, match=f"Release #{soaking.release_id} .* between two"):
        services.rollout_start(actor=None, release=later)
    assert not Rollout.objects.filter(release=later).exists()

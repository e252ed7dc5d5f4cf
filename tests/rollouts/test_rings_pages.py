"""The rings on the service page and on the release page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.catalog.models import Cluster, Service
from apps.catalog.panels import rendered_panels
from apps.releases.models import ReleaseState
from apps.rollouts import rings
from apps.rollouts.models import RolloutState
from tests.rollouts.builders import rollout_row


@pytest.fixture
def ringed_prod(developer, prod):
    eu1, eu2 = Cluster.objects.create(name="eu-1"), Cluster.objects.create(name="eu-2")
    rings.environment_rings_set(
        actor=developer,
        environment=prod,
        rings=[{"cluster": eu1, "soak_seconds": 7200}, {"cluster": eu2}],
    )
    return prod


@pytest.mark.django_db
def test_the_service_page_shows_each_environments_rings_in_order(client_as, developer, ringed_prod):
    body = client_as(developer).get("/catalog/services/web/").content.decode()

    panel = body.split('data-panel="rings"')[1].split("</section>")[0]
    assert 'data-environment="prod"' in panel
    assert panel.index("eu-1") < panel.index("then soak 7200 s") < panel.index("eu-2")


@pytest.mark.django_db
def test_the_release_page_shows_each_rings_rollout_and_when_the_next_ring_starts(
    client_as, developer, web, ringed_prod
):
    due = timezone.now() + timedelta(hours=2)
    ring0 = rollout_row(
        service=web,
        environment=ringed_prod,
        requester=developer,
        state=RolloutState.SUCCEEDED,
        ring=0,
        cluster=Cluster.objects.get(name="eu-1"),
        next_ring_at=due,
    )
    ring0.release.__class__.objects.filter(pk=ring0.release_id).update(
        state=ReleaseState.IN_PROGRESS
    )

    body = client_as(developer).get(f"/releases/{ring0.release_id}/").content.decode()

    section = body.split('data-section="rings"')[1].split("</section>")[0]
    first, second = section.split('data-ring="0"')[1].split('data-ring="1"')
    assert f'href="/rollouts/{ring0.pk}/"' in first and "Succeeded" in first
    assert f"starts after the soak of ring 0 ends at {due:%Y-%m-%d %H:%M} UTC" in second


@pytest.mark.django_db
def test_a_release_to_an_environment_without_rings_has_no_rings_section(
    client_as, developer, web, prod
):
    rollout = rollout_row(service=web, environment=prod, requester=developer)

    body = client_as(developer).get(f"/releases/{rollout.release_id}/").content.decode()

    assert 'data-section="rings"' not in body


@pytest.mark.django_db
def test_a_finished_release_shows_its_rings_as_they_rolled_out_after_the_rings_changed(
    client_as, developer, web, ringed_prod
):
    eu1 = Cluster.objects.get(name="eu-1")
    ring0 = rollout_row(
        service=web,
        environment=ringed_prod,
        requester=developer,
        state=RolloutState.SUCCEEDED,
        ring=0,
        cluster=eu1,
    )
    ring0.release.__class__.objects.filter(pk=ring0.release_id).update(finished_at=timezone.now())
    rings.environment_rings_set(actor=developer, environment=ringed_prod, rings=[])

    body = client_as(developer).get(f"/releases/{ring0.release_id}/").content.decode()

    section = body.split('data-section="rings"')[1].split("</section>")[0]
    assert section.count("data-ring=") == 1 and "eu-1" in section


@pytest.mark.django_db
def test_a_ring_rollouts_page_says_its_ring_and_when_the_next_ring_starts(
    client_as, developer, web, ringed_prod
):
    due = timezone.now() + timedelta(hours=2)
    ring0 = rollout_row(
        service=web,
        environment=ringed_prod,
        requester=developer,
        state=RolloutState.SUCCEEDED,
        ring=0,
        cluster=Cluster.objects.get(name="eu-1"),
        next_ring_at=due,
    )

    body = client_as(developer).get(f"/rollouts/{ring0.pk}/").content.decode()

    assert '<span data-testid="ring">ring 0</span>: eu-1' in body
    assert f"starts after this ring's soak ends at {due:%Y-%m-%d %H:%M} UTC" in body


# The service page reads whether there are any rollouts and rings with the service's row.


@pytest.mark.django_db
def test_the_service_page_skips_the_rollouts_and_rings_reads_of_a_service_with_neither(
    client_as, developer, web
):
    client = client_as(developer)
    with CaptureQueriesContext(connection) as page:
        body = client.get("/catalog/services/web/").content.decode()
    assert [
        q["sql"] for q in page.captured_queries if q["sql"].startswith('SELECT "rollouts_')
    ] == []
    assert "No rollouts yet." in body
    assert "Every environment rolls out to its own cluster." not in body  # editors see each one
    rings_panel = body.split('data-panel="rings"')[1].split("</section>")[0]
    assert 'data-environment="prod"' in rings_panel and "Its own cluster, no rings" in rings_panel


@pytest.mark.django_db
def test_the_panels_read_their_rows_for_a_service_read_without_the_pages_annotations(
    rf, developer, ringed_prod
):
    rollout_row(
        service=ringed_prod.service,
        environment=ringed_prod,
        requester=developer,
        state=RolloutState.SUCCEEDED,
        version="registry/web:7",
    )
    request = rf.get("/catalog/services/web/")
    request.user = developer
    service = Service.objects.get(name="web")  # no any_rollouts, any_rings on this row
    panels = {panel["key"]: panel["html"] for panel in rendered_panels(request, service)}
    assert "registry/web:7" in panels["rollouts"]
    assert panels["rings"].index("eu-1") < panels["rings"].index("eu-2")

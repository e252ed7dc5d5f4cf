"""Setting an environment's rings from its page: the same service, rule and audit row as the
API, its refusals next to what they name, and nothing for those who may not."""

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.catalog.models import Cluster
from apps.rollouts import rings
from apps.rollouts.models import Ring, RolloutState
from tests.rollouts.builders import rollout_row

URL = "/rollouts/services/web/environments/prod/rings/"


@pytest.fixture
def clusters(db):
    return {name: Cluster.objects.create(name=name) for name in ("eu-1", "eu-2", "us-1")}


def rows(*rings_: tuple, initial: int = 0) -> dict:
    """What the browser posts for rows of (cluster, soak_seconds, ring number[, remove])."""
    post = {"rings-TOTAL_FORMS": str(len(rings_)), "rings-INITIAL_FORMS": str(initial)}
    for index, (cluster, soak, order, *remove) in enumerate(rings_):
        post[f"rings-{index}-cluster"] = str(cluster.pk) if cluster else ""
        post[f"rings-{index}-soak_seconds"] = str(soak)
        post[f"rings-{index}-ORDER"] = "" if order is None else str(order)
        if remove:
            post[f"rings-{index}-DELETE"] = "on"
    return post


def saved() -> list[tuple[int, str, int]]:
    return list(
        Ring.objects.filter(environment__name="prod").values_list(
            "position", "cluster__name", "soak_seconds"
        )
    )


@pytest.mark.django_db
def test_an_editor_sets_the_rings_from_the_page_and_the_change_is_audited(
    client_as, developer, prod, clusters
):
    client = client_as(developer)
    assert client.get(URL).status_code == 200

    response = client.post(
        URL, rows((clusters["eu-2"], 1800, 0), (clusters["eu-1"], 0, 1), (None, 0, None))
    )

    assert response.status_code == 302 and response["Location"] == "/catalog/services/web/"
    assert saved() == [(0, "eu-2", 1800), (1, "eu-1", 0)]
    event = AuditEvent.objects.get(action="environment.rings_set")
    assert event.actor == developer and event.target_id == str(prod.pk)
    assert event.after == {
        "rings": [{"cluster": "eu-2", "soak_seconds": 1800}, {"cluster": "eu-1", "soak_seconds": 0}]
    }


@pytest.mark.django_db
def test_the_page_reorders_and_removes_rings_by_their_numbers_and_ticks(
    client_as, developer, prod, clusters
):
    rings.environment_rings_set(
        actor=developer,
        environment=prod,
        rings=[{"cluster": clusters["eu-1"], "soak_seconds": 60}, {"cluster": clusters["eu-2"]}],
    )
    page = client_as(developer).get(URL).content.decode()
    assert 'name="rings-0-ORDER" value="0"' in page and 'name="rings-1-ORDER" value="1"' in page

    response = client_as(developer).post(
        URL,
        rows(
            (clusters["eu-1"], 60, 2),
            (clusters["eu-2"], 0, 1, "remove"),
            (clusters["us-1"], 300, 0),
            initial=2,
        ),
    )

    assert response.status_code == 302
    assert saved() == [(0, "us-1", 300), (1, "eu-1", 60)]


@pytest.mark.django_db
def test_a_cluster_twice_is_refused_next_to_that_rings_cluster_and_nothing_is_written(
    client_as, developer, prod, clusters
):
    response = client_as(developer).post(
        URL, rows((clusters["eu-1"], 0, 0), (clusters["eu-1"], 0, 1))
    )

    assert response.status_code == 200
    body = response.content.decode()
    second_row = body.split('data-row="1"')[1].split("</fieldset>")[0]
    assert "Ring 1: cluster eu-1 is already a ring." in second_row
    assert 'id="id_rings-1-cluster"' in second_row
    assert saved() == [] and not AuditEvent.objects.filter(action="environment.rings_set")


@pytest.mark.django_db
def test_bad_row_input_names_the_field_and_writes_nothing(client_as, developer, prod, clusters):
    response = client_as(developer).post(
        URL,
        {
            **rows((clusters["eu-1"], -5, 0), (None, 60, 1)),
            "rings-1-cluster": "999999",
        },
    )

    assert response.status_code == 200
    form = response.context["rows"]
    assert "soak_seconds" in form.forms[0].errors and "cluster" in form.forms[1].errors
    assert saved() == []


@pytest.mark.django_db
def test_a_release_in_progress_is_refused_in_place_with_the_apis_message(
    client_as, developer, web, prod, clusters
):
    rollout = rollout_row(
        service=web, environment=prod, requester=developer, state=RolloutState.RUNNING
    )

    response = client_as(developer).post(URL, rows((clusters["eu-1"], 0, 0)))

    assert response.status_code == 200
    refused = response.content.decode().split('data-testid="rings-refused"')[1].split("</div>")[0]
    assert f"Release #{rollout.release_id} to prod is in progress" in refused
    assert saved() == []


@pytest.mark.django_db
def test_add_a_row_redraws_the_rows_in_order_without_saving(client_as, developer, prod, clusters):
    response = client_as(developer).post(
        URL,
        {
            **rows((clusters["eu-1"], 60, 3), (clusters["eu-2"], 0, 1), (None, 0, None)),
            "add": "1",
        },
    )

    assert response.status_code == 200
    form = response.context["rows"]
    assert [row.initial.get("cluster") for row in form.forms] == [
        str(clusters["eu-2"].pk),
        str(clusters["eu-1"].pk),
        None,
    ]
    assert not any(row.errors for row in form.forms)
    assert saved() == []


@pytest.mark.django_db
def test_htmx_gets_the_form_back_with_the_refusal_and_a_redirect_once_saved(
    client_as, developer, prod, clusters
):
    client = client_as(developer)
    refused = client.post(
        URL, rows((clusters["eu-1"], 0, 0), (clusters["eu-1"], 0, 1)), HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 200
    assert refused.content.decode().lstrip().startswith('<form method="post" id="rings-form"')

    done = client.post(URL, rows((clusters["eu-1"], 0, 0)), HTTP_HX_REQUEST="true")
    assert done["HX-Redirect"] == "/catalog/services/web/"
    assert saved() == [(0, "eu-1", 0)]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["other_developer", "outsider", "release_manager"])
def test_only_the_owning_team_and_platform_admins_see_or_post_the_rings_page(
    request, client_as, prod, clusters, persona
):
    client = client_as(request.getfixturevalue(persona))

    assert client.get(URL).status_code == 403
    assert client.post(URL, rows((clusters["eu-1"], 0, 0))).status_code == 403
    assert saved() == []
    panel = client.get("/catalog/services/web/").content.decode().split('data-panel="rings"')[1]
    assert URL not in panel.split("</section>")[0] and "edit-rings" not in panel


@pytest.mark.django_db
def test_a_platform_admin_sets_any_services_rings(client_as, platform_admin, prod, clusters):
    response = client_as(platform_admin).post(URL, rows((clusters["us-1"], 0, 0)))

    assert response.status_code == 302 and saved() == [(0, "us-1", 0)]


@pytest.mark.django_db
def test_the_service_page_links_each_environment_to_its_rings_page_for_editors(
    client_as, developer, prod
):
    body = client_as(developer).get("/catalog/services/web/").content.decode()

    panel = body.split('data-panel="rings"')[1].split("</section>")[0]
    assert f'href="{URL}"' in panel and "Its own cluster, no rings" in panel


@pytest.mark.django_db
def test_the_rings_page_needs_a_sign_in_and_the_csrf_token(developer, prod, clusters):
    anonymous = Client()
    assert anonymous.get(URL).status_code == 302
    assert anonymous.post(URL, rows((clusters["eu-1"], 0, 0))).status_code in (302, 403)

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(developer)
    assert strict.post(URL, rows((clusters["eu-1"], 0, 0))).status_code == 403
    assert saved() == []

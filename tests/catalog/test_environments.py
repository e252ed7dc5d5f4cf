"""Changing an environment's delivery settings after the service was created: replicas, soak,
auto-promotion and cluster, by the service's editors, through the service, the API and the
environment's edit page. An active rollout there: tests/rollouts/test_environment_changes.py."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.catalog.environments import environment_snapshot, environment_update
from apps.catalog.models import MAX_SOAK_SECONDS, Cluster, Environment


@pytest.fixture
def staging(web):
    return web.environments.get(name="staging")


@pytest.fixture
def east(db):
    return Cluster.objects.create(name="east")


def reloaded(environment: Environment) -> Environment:
    return Environment.objects.get(pk=environment.pk)


def updates() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="environment.update"))


# --- The service ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_editor_changes_the_soak_and_auto_promotion_and_the_audit_row_has_only_those(
    staging, developer
):
    environment_update(actor=developer, environment=staging, soak_seconds=3600, auto_promote=True)

    saved = reloaded(staging)
    assert (saved.soak_seconds, saved.auto_promote, saved.replicas) == (3600, True, 1)
    [event] = updates()
    assert event.actor == developer
    # On the service, whose page shows its audit trail, labelled with the environment.
    assert (event.target_type, event.target_id, event.target_label) == (
        "catalog.service",
        str(staging.service_id),
        "web/staging",
    )
    assert event.before == {"soak_seconds": 0, "auto_promote": False}
    assert event.after == {"soak_seconds": 3600, "auto_promote": True}


@pytest.mark.django_db
def test_a_new_cluster_is_recorded_by_its_name(staging, developer, east):
    environment_update(actor=developer, environment=staging, cluster=east, replicas=3)

    assert (reloaded(staging).cluster, reloaded(staging).replicas) == (east, 3)
    [event] = updates()
    assert event.before == {"cluster": None, "replicas": 1}
    assert event.after == {"cluster": "east", "replicas": 3}


@pytest.mark.django_db
def test_an_edit_that_changes_nothing_writes_no_audit_row(staging, developer):
    environment_update(actor=developer, environment=staging, replicas=1, auto_promote=False)

    assert updates() == []


@pytest.mark.django_db
def test_a_platform_admin_edits_any_service_s_environment(staging, platform_admin):
    environment_update(actor=platform_admin, environment=staging, replicas=4)

    assert reloaded(staging).replicas == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona", ["other_developer", "release_manager", "leadership", "outsider"]
)
def test_only_the_service_s_editors_change_its_environments(staging, persona, request):
    with pytest.raises(PermissionDenied, match="owning team"):
        environment_update(
            actor=request.getfixturevalue(persona), environment=staging, soak_seconds=60
        )

    assert reloaded(staging).soak_seconds == 0
    assert updates() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replicas", 0),
        ("replicas", 101),
        ("replicas", "three"),
        ("soak_seconds", -1),
        ("soak_seconds", MAX_SOAK_SECONDS + 1),
        ("soak_seconds", 10**30),
        ("auto_promote", "perhaps"),
        ("cluster", Cluster(pk=999_999, name="gone")),
    ],
)
def test_a_bad_value_is_refused_naming_its_field_and_nothing_is_saved(
    staging, developer, field, value
):
    before = environment_snapshot(staging)
    with pytest.raises(ValidationError) as error:
        environment_update(
            actor=developer, environment=staging, **{"soak_seconds": 60, field: value}
        )

    assert field in error.value.message_dict
    assert environment_snapshot(reloaded(staging)) == before
    assert updates() == []


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["name", "namespace", "order", "kind", "service"])
def test_what_names_what_already_runs_cannot_be_changed(staging, developer, field):
    with pytest.raises(ValidationError) as error:
        environment_update(actor=developer, environment=staging, **{field: "other"})

    assert error.value.message_dict == {field: ["This field cannot be changed here."]}
    assert reloaded(staging).name == "staging"


@pytest.mark.django_db
def test_the_environment_s_row_is_locked_while_it_changes(staging, developer):
    with CaptureQueriesContext(connection) as queries:
        environment_update(actor=developer, environment=staging, soak_seconds=60)

    locks = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert any('"catalog_environment"' in sql.split("FOR UPDATE")[0] for sql in locks), locks
    # FOR UPDATE, not FOR NO KEY UPDATE: a rollout starting there refers to the row, and waits.
    assert not any("NO KEY" in sql for sql in locks)


@pytest.mark.django_db
def test_an_environment_deleted_meanwhile_is_gone(staging, developer):
    from django.http import Http404

    Environment.objects.filter(pk=staging.pk).delete()
    with pytest.raises(Http404):
        environment_update(actor=developer, environment=staging, soak_seconds=60)


# --- The API -------------------------------------------------------------------------------

URL = "/api/v1/services/web/environments/staging/"


@pytest.mark.django_db
def test_the_api_changes_an_environment_and_answers_it(api_as, developer, staging, east):
    response = api_as(developer).patch(
        URL, {"soak_seconds": 7200, "auto_promote": True, "cluster": "east"}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["name"], body["soak_seconds"], body["auto_promote"], body["cluster"]) == (
        "staging",
        7200,
        True,
        "east",
    )
    assert reloaded(staging).soak_seconds == 7200
    assert updates()[0].after == {"cluster": "east", "soak_seconds": 7200, "auto_promote": True}


@pytest.mark.django_db
def test_the_api_reads_an_environment(api_as, leadership, staging):
    response = api_as(leadership).get(URL)

    assert response.status_code == 200
    assert response.json()["namespace"] == "payments-staging"


@pytest.mark.django_db
def test_the_api_takes_a_form_encoded_body_too(api_as, developer, staging):
    response = api_as(developer).patch(URL, {"replicas": "2"}, format="multipart")

    assert response.status_code == 200, response.json()
    assert reloaded(staging).replicas == 2


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"soak_seconds": 60}, {"soak_seconds": "soon", "name": "qa"}])
def test_the_api_refuses_a_non_editor_with_403_whatever_the_body(
    api_as, other_developer, staging, body
):
    response = api_as(other_developer).patch(URL, body, format="json")

    assert response.status_code == 403
    assert reloaded(staging).soak_seconds == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/services/web/environments/qa/",
        "/api/v1/services/nope/environments/staging/",
        "/api/v1/services/web/environments/Staging!/",
    ],
)
def test_an_unknown_service_or_environment_is_404(api_as, developer, web, url):
    assert api_as(developer).patch(url, {"soak_seconds": 60}, format="json").status_code == 404
    assert api_as(developer).get(url).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"replicas": "three"}, "replicas"),
        ({"replicas": 0}, "replicas"),
        ({"replicas": 2.5}, "replicas"),
        ({"replicas": True}, "replicas"),
        ({"replicas": 10**40}, "replicas"),
        ({"replicas": None}, "replicas"),
        ({"soak_seconds": "1e9"}, "soak_seconds"),
        ({"soak_seconds": -5}, "soak_seconds"),
        ({"soak_seconds": MAX_SOAK_SECONDS + 1}, "soak_seconds"),
        ({"soak_seconds": [60]}, "soak_seconds"),
        ({"auto_promote": "perhaps"}, "auto_promote"),
        ({"auto_promote": {"yes": 1}}, "auto_promote"),
        ({"cluster": "nowhere"}, "cluster"),
        ({"cluster": 12}, "cluster"),
        ({"cluster": "east\x00"}, "cluster"),
        ({"namespace": "payments-qa"}, "namespace"),
        ({"name": "qa"}, "name"),
        ({"order": 9, "replicas": 2}, "order"),
        ({"kind": "production"}, "kind"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_odd_input_is_a_400_naming_the_field(api_as, developer, staging, east, body, field):
    response = api_as(developer).patch(URL, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert reloaded(staging).replicas == 1
    assert updates() == []


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"{}", b"[]", b'"replicas"', b"{not json"])
def test_a_body_that_is_not_an_object_of_changes_is_a_400(api_as, developer, staging, body):
    response = api_as(developer).generic("PATCH", URL, body, content_type="application/json")

    assert response.status_code == 400
    assert updates() == []


@pytest.mark.django_db
@pytest.mark.parametrize("digits", [40, 4000, 5000])
def test_a_huge_number_written_out_in_the_json_is_a_400(api_as, developer, staging, digits):
    body = b'{"soak_seconds": 1' + b"0" * digits + b"}"
    response = api_as(developer).generic("PATCH", URL, body, content_type="application/json")

    assert response.status_code == 400


# --- The page ------------------------------------------------------------------------------

PAGE = "/catalog/services/web/environments/staging/edit/"


@pytest.mark.django_db
def test_editors_see_an_edit_link_per_environment_and_others_none(
    client_as, developer, other_developer, web
):
    page = client_as(developer).get("/catalog/services/web/").content.decode()
    assert page.count('data-testid="edit-environment"') == 3
    assert f'href="{PAGE}"' in page

    page = client_as(other_developer).get("/catalog/services/web/").content.decode()
    assert 'data-testid="edit-environment"' not in page


@pytest.mark.django_db
def test_an_editor_changes_an_environment_on_its_page(client_as, developer, staging, east):
    client = client_as(developer)
    form = client.get(PAGE)
    assert form.status_code == 200
    assert 'name="soak_seconds"' in form.content.decode()
    assert "name what already runs" in form.content.decode()

    response = client.post(
        PAGE, {"replicas": "2", "soak_seconds": "1800", "auto_promote": "on", "cluster": east.pk}
    )

    assert response.status_code == 302
    assert response["Location"] == "/catalog/services/web/"
    saved = reloaded(staging)
    assert (saved.replicas, saved.soak_seconds, saved.auto_promote, saved.cluster) == (
        2,
        1800,
        True,
        east,
    )
    service_page = client.get(response["Location"]).content.decode()
    assert "web/staging saved." in service_page
    assert "<code>environment.update</code> web/staging" in service_page


@pytest.mark.django_db
def test_a_bad_value_on_the_page_is_shown_next_to_its_field(client_as, developer, staging):
    response = client_as(developer).post(PAGE, {"replicas": "500", "soak_seconds": "0"})

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert reloaded(staging).replicas == 1


@pytest.mark.django_db
def test_the_page_is_403_for_a_non_editor_and_404_for_an_unknown_environment(
    client_as, other_developer, developer, staging
):
    client = client_as(other_developer)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"replicas": "2", "soak_seconds": "0"}).status_code == 403
    assert reloaded(staging).replicas == 1

    assert client_as(developer).get("/catalog/services/web/environments/qa/edit/").status_code == (
        404
    )

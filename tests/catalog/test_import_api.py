from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import include, path, reverse

from apps.audit.models import AuditEvent
from apps.catalog.backstage.exporter import service_catalog_info
from apps.catalog.backstage.loader import MAX_SOURCE_BYTES
from apps.catalog.models import Service
from tests.factories import ServiceFactory

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "backstage"
IMPORT = "/api/v1/catalog/import"
PAGE = "/catalog/import/"


def component(name: str, owner: str = "payments") -> str:
    return (
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )


# --- POST /api/v1/catalog/import ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["application/yaml", "text/plain", "application/x-yaml"])
def test_a_developer_imports_raw_yaml(api_as, developer, content_type):
    response = api_as(developer).post(IMPORT, component("checkout"), content_type=content_type)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True
    assert body["counts"] == {"Component": {"created": 1, "updated": 0}}
    assert Service.objects.get().owner.slug == "payments"
    event = AuditEvent.objects.get(action="catalog.import")
    assert (event.actor, event.target_id) == (developer, body["import_id"])


@pytest.mark.django_db
def test_json_with_a_yaml_field_is_accepted_too(api_as, developer):
    response = api_as(developer).post(IMPORT, {"yaml": component("checkout")}, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == {"Component": ["checkout"]}


@pytest.mark.django_db
def test_a_partial_import_is_still_200_with_the_errors_in_the_body(api_as, developer, search):
    text = component("checkout") + "---\n" + component("indexer", owner="search")
    response = api_as(developer).post(IMPORT, text, content_type="application/yaml")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["errors"] == [
        {
            "source": "upload",
            "document": 2,
            "field": "spec.owner",
            "message": "You are not a member of team search.",
        }
    ]
    assert list(Service.objects.values_list("name", flat=True)) == ["checkout"]


@pytest.mark.django_db
def test_unparseable_yaml_is_a_400_naming_the_line(api_as, developer):
    text = component("checkout") + "  tags: [a, b]]\n" + component("other")
    response = api_as(developer).post(IMPORT, text, content_type="application/yaml")
    assert response.status_code == 400
    body = response.json()
    assert body["source"] == "upload" and body["line"] == 9
    assert "line 9" in body["detail"]
    assert not Service.objects.exists()
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


@pytest.mark.django_db
def test_a_yaml_bomb_is_a_400(api_as, developer):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    response = api_as(developer).post(IMPORT, "\n".join(lines), content_type="application/yaml")
    assert response.status_code == 400
    assert "YAML bomb" in response.json()["detail"]


@pytest.mark.django_db
def test_a_body_over_the_limit_is_a_413(api_as, developer):
    body = "#" * (MAX_SOURCE_BYTES + 1)
    response = api_as(developer).post(IMPORT, body, content_type="application/yaml")
    assert response.status_code == 413
    response = api_as(developer).post(IMPORT, {"yaml": body}, format="json")
    assert response.status_code == 413
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


@pytest.mark.django_db
def test_an_empty_body_is_a_400_naming_the_field(api_as, developer):
    response = api_as(developer).post(IMPORT, {}, format="json")
    assert response.status_code == 400
    assert "yaml" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["leadership", "outsider"])
def test_leadership_and_outsiders_get_403(api_as, request, persona, payments):
    client = api_as(request.getfixturevalue(persona))
    response = client.post(IMPORT, component("checkout"), content_type="application/yaml")
    assert response.status_code == 403
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_anonymous_callers_are_refused(api_client, payments):
    response = api_client.post(IMPORT, component("checkout"), content_type="application/yaml")
    assert response.status_code in (401, 403)


# --- GET /api/v1/services/<name>/catalog-info.yaml ---------------------------------------------


@pytest.mark.django_db
def test_a_services_catalog_info_is_served_as_yaml(api_as, leadership, payments):
    service = ServiceFactory(name="checkout", owner=payments, title="Checkout")
    response = api_as(leadership).get("/api/v1/services/checkout/catalog-info.yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(response.content) == service_catalog_info(service)
    assert yaml.safe_load(response.content)["spec"]["owner"] == "group:default/payments"


@pytest.mark.django_db
def test_the_descriptor_is_json_for_who_asks_for_json(api_as, leadership, payments):
    ServiceFactory(name="checkout", owner=payments)
    response = api_as(leadership).get(
        "/api/v1/services/checkout/catalog-info.yaml", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    assert response.json()["metadata"]["name"] == "checkout"


@pytest.mark.django_db
def test_an_unknown_service_is_a_404(api_as, developer):
    response = api_as(developer).get("/api/v1/services/nope/catalog-info.yaml")
    assert response.status_code == 404


def test_the_urls_the_catalog_mounts_resolve_to_the_documented_paths():
    assert reverse("catalog:import") == PAGE
    assert reverse("catalog-import") == IMPORT


def test_the_api_schema_documents_both_endpoints_without_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("apps.catalog.api.backstage"))])
    schema = generator.get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular warned about the Backstage endpoints"
    post = schema["paths"]["/api/v1/catalog/import"]["post"]
    assert set(post["requestBody"]["content"]) >= {"application/yaml", "application/json"}
    assert set(post["responses"]) == {"200", "400", "401", "403", "413", "415"}
    # A Backstage source error, or the refusal of the request as a whole.
    assert post["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ImportRefusal"
    }
    get = schema["paths"]["/api/v1/services/{name}/catalog-info.yaml"]["get"]
    assert "application/yaml" in get["responses"]["200"]["content"]


# --- The upload page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_upload_page_shows_a_file_input_and_a_textarea(client_as, developer):
    response = client_as(developer).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file"' in html and "<textarea" in html
    assert 'enctype="multipart/form-data"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["leadership", "outsider", "release_manager"])
def test_the_upload_page_is_closed_to_people_who_change_nothing(client_as, request, persona):
    response = client_as(request.getfixturevalue(persona)).get(PAGE)
    assert response.status_code == 403


@pytest.mark.django_db
def test_uploading_a_file_renders_counts_errors_and_warnings(client_as, developer, search):
    text = (
        component("checkout")
        + "---\n"
        + component("indexer", owner="search")
        + "  system: nowhere\n"
        + "---\n"
        + component("basket")
        + "  system: nowhere\n"
    )
    upload = SimpleUploadedFile("team.yaml", text.encode(), content_type="application/yaml")
    response = client_as(developer).post(PAGE, {"file": upload})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="import-report"' in html
    assert "<td>Component</td><td>2</td><td>0</td>" in html
    assert (
        "<tr><td>team.yaml</td><td>2</td><td><code>spec.owner</code></td>"
        '<td><span class="pill pill-bad">error</span> You are not a member of team search.</td>'
    ) in html
    assert "<td>team.yaml</td><td>3</td><td><code>spec.system</code></td>" in html
    assert sorted(Service.objects.values_list("name", flat=True)) == ["basket", "checkout"]


@pytest.mark.django_db
def test_pasted_yaml_imports_and_htmx_gets_only_the_report(client_as, developer):
    response = client_as(developer).post(
        PAGE, {"text": component("checkout")}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="import-report"' in html
    assert "<html" not in html and "<form" not in html
    assert Service.objects.filter(name="checkout").exists()


@pytest.mark.django_db
def test_unparseable_yaml_on_the_page_names_the_line_and_imports_nothing(client_as, developer):
    text = component("checkout") + "  tags: [a, b]]\n"
    response = client_as(developer).post(PAGE, {"text": text})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was imported. pasted text, line 9:" in html
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_an_empty_form_or_an_oversized_file_is_refused(client_as, developer):
    response = client_as(developer).post(PAGE, {"text": "  "})
    assert "Choose a file or paste some YAML." in response.content.decode()
    big = SimpleUploadedFile("big.yaml", b"#" * (MAX_SOURCE_BYTES + 1))
    response = client_as(developer).post(PAGE, {"file": big})
    assert "the limit is 5,242,880" in response.content.decode()
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


# --- manage.py import_backstage ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_imports_the_samples_as_runway_and_prints_the_report(capsys):
    call_command("import_backstage", str(SAMPLES))

    out = capsys.readouterr().out
    assert "Component: 2 created, 0 updated" in out
    assert "Created team cncf from owner reference group:default/CNCF." in out
    assert "Imported without errors." in out
    event = AuditEvent.objects.get(action="catalog.import")
    assert event.actor is None and event.actor_label == "runway"
    assert Service.objects.count() == 2


@pytest.mark.django_db
def test_the_command_exits_non_zero_when_an_entity_fails(tmp_path, capsys, payments):
    (tmp_path / "a.yaml").write_text(component("good") + "---\n" + component("Bad Name!"))

    with pytest.raises(CommandError) as caught:
        call_command("import_backstage", str(tmp_path / "a.yaml"))

    assert caught.value.returncode != 0
    assert "1 error(s)" in str(caught.value)
    out = capsys.readouterr().out
    assert f"{tmp_path / 'a.yaml'}, document 2, metadata.name:" in out
    assert Service.objects.filter(name="good").exists()


@pytest.mark.django_db
def test_the_command_refuses_a_broken_file_and_writes_nothing(tmp_path, payments):
    (tmp_path / "a.yaml").write_text(component("good") + "---\n: : :\n  - [\n")
    with pytest.raises(CommandError, match=r"Nothing imported.*a.yaml, line"):
        call_command("import_backstage", str(tmp_path))
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_the_command_refuses_a_path_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_backstage", str(tmp_path / "missing"))

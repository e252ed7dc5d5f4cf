"""The service page offers a golden-path service's standard pipelines for download."""

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from apps.catalog import services as catalog
from apps.releases import services as releases
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

GITHUB = "/catalog/services/ledger/pipelines/github/"
GITLAB = "/catalog/services/ledger/pipelines/gitlab/"


@pytest.fixture
def python_web_v1(platform_admin):
    return catalog.template_create(
        actor=platform_admin, name="python-web", title="Python web", language="python"
    )


@pytest.fixture
def ledger(developer, payments, python_web_v1):
    return catalog.service_create(
        actor=developer, name="ledger", owner=payments, template=python_web_v1
    )


def test_anyone_signed_in_downloads_both_files(client_as, other_developer, ledger):
    client = client_as(other_developer)  # another team's developer reads, as the page

    github, gitlab = client.get(GITHUB), client.get(GITLAB)

    assert github.status_code == 200 and gitlab.status_code == 200
    assert github["Content-Disposition"] == 'attachment; filename="runway.yml"'
    assert gitlab["Content-Disposition"] == 'attachment; filename=".gitlab-ci.yml"'
    workflow = yaml.safe_load(github.content)
    assert workflow["env"]["RUNWAY_PIPELINE_TEMPLATE"] == "python-web@1"
    assert list(workflow["jobs"])[-3:] == ["release-dev", "release-staging", "release-prod"]
    assert yaml.safe_load(gitlab.content)["variables"]["RUNWAY_SERVICE"] == "ledger"


def test_signed_out_visitors_are_sent_to_sign_in(client, ledger):
    response = client.get(GITHUB)

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_deactivated_account_cannot_download(client_as, developer, ledger):
    client = client_as(developer)
    developer.is_active = False
    developer.save(update_fields=["is_active"])

    assert client.get(GITHUB).status_code in (302, 403)


def test_a_service_without_a_golden_path_or_an_unknown_file_is_a_404(client_as, developer, ledger):
    ServiceFactory(name="notes", owner=developer.teams.first())
    client = client_as(developer)

    assert client.get("/catalog/services/notes/pipelines/github/").status_code == 404
    assert client.get("/catalog/services/ledger/pipelines/jenkins/").status_code == 404
    assert client.get("/catalog/services/nothing/pipelines/github/").status_code == 404


def test_the_page_links_the_files_and_says_whether_ci_reports_the_latest_version(
    client_as, developer, platform_admin, ledger
):
    client = client_as(developer)
    page = "/catalog/services/ledger/"
    assert "nothing yet" in client.get(page).content.decode()

    prod = ledger.environments.get(name="prod")
    _request(developer, ledger, prod, "python-web@1")
    body = client.get(page).content.decode()
    assert f'href="{GITHUB}"' in body and f'href="{GITLAB}"' in body
    assert "<code>python-web@1</code>" in body and "latest version" in body

    catalog.template_create(actor=platform_admin, name="python-web", title="Python web")
    body = client.get(page).content.decode()
    assert "not the latest version" in body


def test_the_api_shows_the_reported_template(api_as, developer, ledger):
    api = api_as(developer)
    assert api.get("/api/v1/services/ledger/").json()["pipeline_template"] is None

    _request(developer, ledger, ledger.environments.get(name="dev"), "python-web@1")

    found = api.get("/api/v1/services/ledger/").json()
    assert found["pipeline_template"] == "python-web@1" and found["pipeline_reported_at"]


def test_a_service_without_a_golden_path_shows_no_pipeline(client_as, developer, payments):
    catalog.service_create(actor=developer, name="notes", owner=payments)

    body = client_as(developer).get("/catalog/services/notes/").content.decode()

    assert 'data-testid="standard-pipeline"' not in body


def _request(actor, service, environment, reference):
    start = timezone.now() + timedelta(hours=1)
    return releases.release_create(
        actor=actor,
        service=service,
        environment=environment,
        version="registry/ledger:1.0.0",
        title="Ledger 1",
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        pipeline_template=reference,
    )

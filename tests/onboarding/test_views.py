import re

import pytest

from apps.audit.models import AuditEvent
from apps.catalog import services as catalog
from apps.catalog.models import Service
from apps.onboarding.models import OnboardingDraft, Step

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return response.content.decode()


def current_step(response) -> str:
    """The label of the step the progress indicator marks as current."""
    match = re.search(r'aria-current="step">(.*?)</li>', text(response), re.S)
    assert match, "no current step"
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).split(":")[-1].strip()


def errors_of(response, field: str) -> str:
    """The error list rendered next to a field (Django gives it the id `id_<field>_error`)."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', text(response))
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip() if match else ""


def test_the_wizard_opens_on_basics_with_every_step_named_and_numbered(wizard):
    response = wizard.client.get("/onboard/")
    assert response.status_code == 200
    body = text(response)
    assert "<h1>Onboard a service</h1>" in body
    for number, label in enumerate(["Basics", "Runtime", "Delivery", "Operations", "Review"], 1):
        assert f"Step {number}:</span> {label}" in body
    assert body.count('aria-current="step"') == 1
    assert current_step(response) == "Basics"
    assert 'hx-trigger="keyup changed delay:300ms"' in body


def test_next_saves_the_step_and_swaps_in_only_the_next_panel(wizard, developer):
    response = wizard.submit("basics")
    body = text(response)
    assert body.lstrip().startswith('<div id="wizard-panel"')
    assert "<html" not in body
    assert current_step(response) == "Runtime"
    draft = OnboardingDraft.objects.get(user=developer)
    assert draft.step == Step.RUNTIME
    assert draft.data["basics"]["tags"] == ["money", "python"]


def test_a_step_with_errors_shows_them_next_to_the_fields_and_saves_nothing(wizard, developer):
    response = wizard.submit("basics", name="Bad Name!", title="")
    assert current_step(response) == "Basics"
    assert "Use at most 63 lowercase letters" in errors_of(response, "name")
    assert "This field is required." in errors_of(response, "title")
    assert 'value="Bad Name!"' in text(response)
    assert not OnboardingDraft.objects.exists()


def test_a_name_over_63_characters_is_refused_with_its_length_not_cut(wizard):
    name = "a" * 70
    response = wizard.submit("basics", name=name)
    assert current_step(response) == "Basics"
    assert "at most 63 characters" in errors_of(response, "name")
    assert "this one has 70" in errors_of(response, "name")
    body = text(response)
    assert f'value="{name}"' in body and 'maxlength="63"' not in body


def test_back_keeps_what_the_step_being_left_holds_even_before_it_is_valid(wizard, developer):
    wizard.complete("basics")
    back = wizard.client.post(
        "/onboard/steps/runtime/back/",
        {**wizard.answers["runtime"], "image": "registry.example.com/ledger:2.0.0", "cpu": "lots"},
        **HTMX,
    )
    assert current_step(back) == "Basics"
    assert OnboardingDraft.objects.get(user=developer).step == Step.BASICS
    runtime = wizard.client.get("/onboard/steps/runtime/", **HTMX)
    body = text(runtime)
    # As typed, the invalid value too, and not checked until Next.
    assert 'value="registry.example.com/ledger:2.0.0"' in body and 'value="lots"' in body
    assert "errorlist" not in body
    # Next checks it then, and a valid submit forgets what was left.
    assert errors_of(wizard.submit("runtime", cpu="lots"), "cpu")
    wizard.submit("runtime")
    assert "left" not in OnboardingDraft.objects.get(user=developer).data


def test_back_from_a_valid_step_saves_it_as_next_would(wizard, developer):
    wizard.complete("basics")
    wizard.client.post("/onboard/steps/runtime/back/", wizard.answers["runtime"], **HTMX)
    data = OnboardingDraft.objects.get(user=developer).data
    assert data["runtime"]["image"] == "registry.example.com/ledger:1.0.0"
    assert "left" not in data


def test_another_teams_id_is_refused_with_an_error_on_owner(wizard, search):
    response = wizard.submit("basics", owner=str(search.pk))
    assert errors_of(response, "owner") == "Choose one of your own teams."
    assert not OnboardingDraft.objects.exists()


def test_each_later_step_names_the_fields_in_error(wizard):
    wizard.complete("basics")
    response = wizard.submit("runtime", cpu="lots", container_port="70000")
    assert "Kubernetes quantity" in errors_of(response, "cpu")
    assert "less than or equal to 65535" in errors_of(response, "container_port")

    wizard.complete("runtime")
    response = wizard.submit("delivery", **{"environments-1-name": "Prod!"})
    assert current_step(response) == "Delivery"
    assert 'id="id_environments-1-name_error"' in text(response)

    wizard.complete("delivery")
    response = wizard.submit("operations", runbook_url="not a url")
    assert errors_of(response, "runbook_url") == "Enter a valid URL."


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("journal", "available"),
        ("taken-one", "taken"),
        ("Bad Name!", "Use at most 63 lowercase letters, digits and"),
        ("x" * 64, "at most 63 characters"),
    ],
)
def test_the_name_check_says_available_taken_or_why_not(wizard, developer, payments, name, says):
    catalog.service_create(actor=developer, name="taken-one", owner=payments)
    response = wizard.client.get("/onboard/name-check/", {"name": name}, **HTMX)
    assert response.status_code == 200
    assert says in text(response)


def test_the_name_check_says_nothing_about_an_empty_name(wizard):
    response = wizard.client.get("/onboard/name-check/", {"name": ""}, **HTMX)
    assert text(response).strip() == ""


def test_the_draft_survives_a_reload_and_resumes_where_the_user_left(wizard):
    wizard.complete("basics", "runtime")
    response = wizard.client.get("/onboard/")
    assert current_step(response) == "Delivery"
    assert "<html" in text(response)

    response = wizard.client.get("/onboard/steps/basics/", **HTMX)
    assert current_step(response) == "Basics"
    assert 'value="ledger"' in text(response)
    assert 'value="money, python"' in text(response)


def test_a_step_not_reached_yet_opens_the_furthest_one_reached(wizard):
    wizard.complete("basics")
    response = wizard.client.get("/onboard/steps/review/", **HTMX)
    assert current_step(response) == "Runtime"


def test_start_over_discards_the_draft(wizard, developer):
    wizard.complete("basics", "runtime")
    response = wizard.client.post("/onboard/discard/", **HTMX)
    assert current_step(response) == "Basics"
    assert 'value="ledger"' not in text(response)
    assert not OnboardingDraft.objects.filter(user=developer).exists()


def test_a_template_fills_in_the_runtime_and_the_strategy(wizard, python_web):
    wizard.complete("basics")
    response = wizard.client.post(
        "/onboard/steps/runtime/redraw/",
        {**wizard.answers["runtime"], "template": str(python_web.pk), "op": "template"},
        **HTMX,
    )
    body = text(response)
    assert current_step(response) == "Runtime"
    for value in ('value="8000"', 'value="/health/ready"', 'value="500m"', 'value="512Mi"'):
        assert value in body
    assert 'value="registry.example.com/ledger:1.0.0"' in body  # what was typed stays
    assert "errorlist" not in body

    response = wizard.submit("runtime", template=str(python_web.pk), container_port="8000")
    assert current_step(response) == "Delivery"
    assert '<option value="canary" selected>' in text(response)


def test_choosing_another_strategy_shows_its_parameters(wizard):
    wizard.complete("basics", "runtime")
    response = wizard.client.post(
        "/onboard/steps/delivery/redraw/",
        {**wizard.answers["delivery"], "strategy": "blue-green", "op": "strategy"},
        **HTMX,
    )
    body = text(response)
    assert 'name="auto_promotion"' in body and 'name="scale_down_delay_seconds"' in body
    assert 'name="canary-0-value"' not in body
    assert 'name="environments-1-namespace" value="ledger-live"' in body


def test_rows_are_added_and_removed_without_checking_the_step(wizard):
    wizard.complete("basics", "runtime")
    delivery = {**wizard.answers["delivery"], "environments-0-name": ""}
    response = wizard.client.post(
        "/onboard/steps/delivery/redraw/", {**delivery, "op": "add:environments"}, **HTMX
    )
    assert 'name="environments-TOTAL_FORMS" value="3"' in text(response)
    assert "errorlist" not in text(response)

    response = wizard.client.post(
        "/onboard/steps/delivery/redraw/", {**delivery, "op": "remove:canary:1"}, **HTMX
    )
    assert 'name="canary-TOTAL_FORMS" value="3"' in text(response)
    assert 'value="http-smoke"' in text(response)


def test_review_shows_the_manifests_and_the_catalog_info(wizard):
    wizard.complete()
    response = wizard.client.get("/onboard/")
    body = text(response)
    assert current_step(response) == "Review"
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert f'data-testid="manifest-kind">{kind}<' in body
    assert "kind: Deployment" in body and "maxReplicas: 6" in body and "minAvailable: 2" in body
    assert "catalog-info.yaml" in body and "owner: group:default/payments" in body
    assert "<code>ledger-live</code>" in body and "Create service" in body
    assert not Service.objects.exists()


def test_review_shows_the_golden_path_s_ci_pipelines_beside_the_manifests(wizard, python_web):
    wizard.complete("basics")
    wizard.submit("runtime", template=str(python_web.pk), container_port="8000")
    wizard.complete("delivery", "operations")

    body = text(wizard.client.get("/onboard/"))

    assert body.count('data-testid="pipeline-yaml"') == 2
    assert "<code>.github/workflows/runway.yml</code>" in body
    assert "<code>.gitlab-ci.yml</code>" in body
    assert body.count("RUNWAY_PIPELINE_TEMPLATE: python-web@2") == 2
    # One release per environment the delivery step lists, in its order.
    assert body.index("release-staging:") < body.index("release-prod:")
    assert "--env qa" not in body and 'data-testid="no-pipeline"' not in body
    assert not Service.objects.exists()


def test_review_without_a_golden_path_says_there_is_no_standard_pipeline(wizard):
    wizard.complete()

    body = text(wizard.client.get("/onboard/"))

    assert 'data-testid="no-pipeline"' in body and "pipeline-yaml" not in body


def test_without_autoscaling_or_a_budget_there_is_no_hpa_or_pdb(wizard):
    wizard.complete("basics")
    wizard.submit("runtime", autoscale_max="", pdb_min_available="")
    wizard.complete("delivery", "operations")
    body = text(wizard.client.get("/onboard/"))
    assert "kind: Deployment" in body
    assert "HorizontalPodAutoscaler" not in body and "PodDisruptionBudget" not in body


def test_create_makes_the_service_audits_it_drops_the_draft_and_opens_its_page(
    wizard, developer, payments
):
    wizard.complete()
    response = wizard.create()

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/catalog/services/ledger/"
    service = Service.objects.get(name="ledger")
    assert (service.title, service.owner, service.tier, service.lifecycle) == (
        "Ledger",
        payments,
        2,
        "production",
    )
    assert sorted(service.tags.values_list("name", flat=True)) == ["money", "python"]
    assert [(e.name, e.kind, e.namespace, e.replicas) for e in service.environments.all()] == [
        ("staging", "staging", "payments-staging", 1),
        ("prod", "production", "ledger-live", 4),
    ]
    assert service.strategy == "canary"
    assert service.strategy_params["steps"][1] == {"pause": {}}
    assert (service.replicas, service.autoscale_max, service.pdb_min_available) == (3, 6, 2)
    assert service.links == [{"title": "Dashboard", "url": "https://grafana.example.com/d/ledger"}]
    assert service.runbook_url == "https://wiki.example.com/ledger/runbook"
    assert [m["kind"] for m in service.manifests][:2] == ["Deployment", "Service"]
    event = AuditEvent.objects.get(action="service.create")
    assert (event.actor, event.target_id) == (developer, str(service.pk))
    assert not OnboardingDraft.objects.exists()


def test_without_htmx_create_redirects_to_the_service_page(wizard):
    wizard.complete()
    response = wizard.client.post("/onboard/create/")
    assert response.status_code == 302
    assert response["Location"] == "/catalog/services/ledger/"


def test_create_before_every_step_is_done_goes_back_to_the_wizard(wizard):
    wizard.complete("basics")
    response = wizard.create()
    assert response["HX-Redirect"] == "/onboard/"
    assert not Service.objects.exists()


def test_autoscaling_below_the_replicas_is_shown_on_the_runtime_step(wizard, developer):
    wizard.complete("basics")
    response = wizard.submit("runtime", replicas="3", autoscale_max="2")
    assert current_step(response) == "Runtime"
    assert errors_of(response, "autoscale_max") == (
        "The autoscaling maximum must be at least the replicas."
    )
    assert OnboardingDraft.objects.get(user=developer).step == Step.RUNTIME


def test_a_canary_that_never_reaches_100_is_shown_on_the_delivery_step(wizard):
    wizard.complete("basics", "runtime")
    response = wizard.submit("delivery", **{"canary-3-value": "80"})
    assert current_step(response) == "Delivery"
    assert 'id="strategy-params-errors"' in text(response)
    assert "The last weight must be 100" in text(response)


def test_a_name_taken_between_steps_sends_the_user_back_to_basics(
    wizard, developer, other_developer, search
):
    wizard.complete("basics")
    catalog.service_create(actor=other_developer, name="ledger", owner=search)

    response = wizard.submit("runtime")

    assert current_step(response) == "Basics"
    assert errors_of(response, "name") == "A service called &#x27;ledger&#x27; already exists."
    draft = OnboardingDraft.objects.get(user=developer)
    assert draft.step == Step.BASICS and "runtime" in draft.data


def test_a_name_taken_before_create_sends_the_user_back_to_basics(
    wizard, developer, other_developer, search
):
    wizard.complete()
    catalog.service_create(actor=other_developer, name="ledger", owner=search)

    response = wizard.create()

    assert "HX-Redirect" not in response
    assert current_step(response) == "Basics"
    assert "already exists" in errors_of(response, "name")
    assert Service.objects.get().owner == search
    assert OnboardingDraft.objects.get(user=developer).step == Step.BASICS
    assert current_step(wizard.client.get("/onboard/")) == "Basics"


def test_a_platform_admin_onboards_a_service_for_any_team(
    client_as, platform_admin, answers, search
):
    client = client_as(platform_admin)
    answers["basics"]["owner"] = str(search.pk)
    for step in ("basics", "runtime", "delivery", "operations"):
        client.post(f"/onboard/steps/{step}/submit/", answers[step], **HTMX)
    response = client.post("/onboard/create/", **HTMX)
    assert response["HX-Redirect"] == "/catalog/services/ledger/"
    assert Service.objects.get().owner == search


ENDPOINTS = [
    ("get", "/onboard/"),
    ("get", "/onboard/steps/basics/"),
    ("post", "/onboard/steps/basics/submit/"),
    ("post", "/onboard/steps/delivery/redraw/"),
    ("get", "/onboard/name-check/?name=ledger"),
    ("post", "/onboard/create/"),
    ("post", "/onboard/discard/"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
@pytest.mark.parametrize("persona", ["leadership", "outsider", "release_manager"])
def test_people_who_cannot_create_services_get_403_everywhere(
    request, client_as, answers, persona, method, url
):
    client = client_as(request.getfixturevalue(persona))
    response = getattr(client, method)(url, answers["basics"], **HTMX)
    assert response.status_code == 403
    assert not OnboardingDraft.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/onboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_unknown_step_is_a_404(wizard):
    assert wizard.client.get("/onboard/steps/nowhere/").status_code == 404
    assert wizard.client.post("/onboard/steps/review/submit/").status_code == 404


def test_without_htmx_the_wizard_works_with_plain_form_posts(client_as, developer, answers):
    client = client_as(developer)
    response = client.post("/onboard/steps/basics/submit/", answers["basics"])
    assert response.status_code == 302 and response["Location"] == "/onboard/"
    response = client.post("/onboard/steps/runtime/submit/", {**answers["runtime"], "cpu": "x"})
    assert "<html" in text(response) and current_step(response) == "Runtime"
    assert "Kubernetes quantity" in errors_of(response, "cpu")

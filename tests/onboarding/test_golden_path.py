"""The golden path: the default template version, which the wizard starts from, gives a service
that passes the scorecard's Silver rules once its people name a runbook and an on-call."""

from html.parser import HTMLParser

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from apps.audit.models import AuditEvent
from apps.catalog import services as catalog
from apps.catalog.models import GoldenPathTemplate, Service
from apps.insights.models import Level, ServiceScore
from apps.insights.scorecards.evaluation import evaluate_services, rule_settings
from apps.insights.scorecards.services import scorecards_refresh
from apps.releases import services as releases
from apps.releases.models import ApprovalPolicy
from tests.onboarding.fixtures import VERIFIED_CANARY

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


class StepForm(HTMLParser):
    """What a browser would post from the wizard's step form, as drawn: text and hidden inputs,
    checked boxes, each select's selected option and textareas."""

    def __init__(self, html: str):
        super().__init__()
        self.values: dict[str, str] = {}
        self.selected: dict[str, str] = {}
        self._in_step_form = False
        self._select = self._textarea = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and "/onboard/steps/" in (attrs.get("action") or ""):
            self._in_step_form = True
        if not self._in_step_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            if attrs.get("type") == "checkbox":
                if "checked" in attrs:
                    self.values[name] = "on"
            elif attrs.get("type") != "submit":
                self.values[name] = attrs.get("value") or ""
        elif tag == "select":
            self._select = name
            self.values[name] = ""
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value") or ""
            self.selected[self._select] = attrs.get("value") or ""
        elif tag == "textarea":
            self._textarea = name
            self.values[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_step_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


@pytest.fixture
def production_policy(platform_admin) -> ApprovalPolicy:
    """What the organisation decides, not the template: production changes need approval."""
    return releases.approval_policy_create(
        actor=platform_admin,
        name="Production",
        environment_kind="production",
        rules=[{"name": "Release managers", "role": "release_manager", "required_count": 1}],
    )


def onboard_with_the_defaults(client, **typed) -> Service:
    """Walk the wizard as a browser does, posting each step as drawn plus what is `typed`."""
    panel = client.get("/onboard/").content.decode()
    for step in ("basics", "runtime", "delivery", "operations"):
        drawn = StepForm(panel)
        posted = {**drawn.values, **typed.get(step, {})}
        response = client.post(f"/onboard/steps/{step}/submit/", posted, **HTMX)
        panel = response.content.decode()
        assert "errorlist" not in panel, (step, panel)
    created = client.post("/onboard/create/", **HTMX)
    assert created.status_code == 200 and created.headers["HX-Redirect"]
    return Service.objects.get(name=typed["basics"]["name"])


def test_a_service_onboarded_with_the_defaults_reaches_silver(
    client_as, developer, golden_path, production_policy
):
    client = client_as(developer)
    service = onboard_with_the_defaults(
        client,
        basics={"name": "invoices", "title": "Invoices"},
        operations={
            "runbook_url": "https://runbooks.example.com/invoices",
            "on_call": "#payments-oncall",
        },
    )

    assert service.template == golden_path
    assert service.strategy == "canary"
    assert service.strategy_params == VERIFIED_CANARY
    scorecards_refresh(service_ids=[service.pk])
    score = ServiceScore.objects.get(service=service)
    assert score.level == Level.SILVER
    silver_and_below = [s.key for s in rule_settings() if s.level <= Level.SILVER]
    assert {key: score.results[key] for key in silver_and_below} == dict.fromkeys(
        silver_and_below, True
    )


def test_without_the_golden_path_the_same_answers_stay_below_silver(
    client_as, developer, golden_path, production_policy
):
    client = client_as(developer)
    service = onboard_with_the_defaults(
        client,
        basics={"name": "invoices", "title": "Invoices"},
        runtime={"template": ""},
        operations={
            "runbook_url": "https://runbooks.example.com/invoices",
            "on_call": "#payments-oncall",
        },
    )

    (evaluation,) = evaluate_services(service_ids=[service.pk])
    assert evaluation.level == Level.BRONZE
    assert not evaluation.results["latest_template"]
    assert not evaluation.results["verification_gate"]


def test_the_wizard_preselects_the_default_version_and_its_settings(
    client_as, developer, golden_path
):
    client = client_as(developer)
    panel = client.get("/onboard/").content.decode()
    posted = {**StepForm(panel).values, "name": "invoices", "title": "Invoices"}
    runtime = client.post("/onboard/steps/basics/submit/", posted, **HTMX).content.decode()

    drawn = StepForm(runtime)
    assert drawn.selected["template"] == str(golden_path.pk)
    assert "Python web (python-web v2, the golden path)" in runtime
    assert drawn.values["container_port"] == str(golden_path.container_port)

    delivery = client.post("/onboard/steps/runtime/submit/", drawn.values, **HTMX)
    steps = StepForm(delivery.content.decode())
    assert steps.selected["strategy"] == "canary"
    values = [steps.values[f"canary-{i}-value"] for i in range(5)]
    assert values == ["20", "success-rate", "50", "60", "100"]
    assert steps.selected["canary-1-type"] == "analysis"


def test_the_wizard_preselects_nothing_when_the_default_is_not_its_templates_newest(
    client_as, developer, golden_path, platform_admin
):
    catalog.template_create(actor=platform_admin, name="python-web", title="Python web")
    client = client_as(developer)
    panel = client.get("/onboard/").content.decode()
    posted = {**StepForm(panel).values, "name": "invoices", "title": "Invoices"}
    runtime = client.post("/onboard/steps/basics/submit/", posted, **HTMX).content.decode()

    assert StepForm(runtime).values["template"] == ""


def test_a_rolling_template_keeps_its_verification_through_the_wizard(
    client_as, developer, platform_admin, production_policy
):
    template = catalog.template_create(
        actor=platform_admin,
        name="worker",
        title="Worker",
        strategy="rolling",
        strategy_params={"post_deploy_analysis": "http-smoke"},
        is_default=True,
    )
    service = onboard_with_the_defaults(
        client_as(developer),
        basics={"name": "invoices", "title": "Invoices"},
        operations={"runbook_url": "https://runbooks.example.com/i", "on_call": "#pay"},
    )

    assert service.template == template
    assert service.strategy_params["post_deploy_analysis"] == "http-smoke"
    (evaluation,) = evaluate_services(service_ids=[service.pk])
    assert evaluation.results["verification_gate"] and evaluation.level == Level.SILVER


# --- The template versions themselves ------------------------------------------------------


def test_a_new_default_takes_over_from_the_old_one_and_says_so_in_the_audit_log(
    golden_path, platform_admin
):
    go = catalog.template_create(
        actor=platform_admin, name="go-grpc", title="Go gRPC", is_default=True
    )

    golden_path.refresh_from_db()
    assert (go.is_default, golden_path.is_default) == (True, False)
    event = AuditEvent.objects.filter(action="template.create").latest("id")
    assert event.before == {"default": "python-web v2"}
    assert event.after["is_default"] is True and event.after["version"] == 1


def test_an_existing_version_is_made_the_default_with_an_audit_row(golden_path, platform_admin):
    first = GoldenPathTemplate.objects.get(name="python-web", version=1)

    catalog.template_make_default(actor=platform_admin, template=first)

    assert list(GoldenPathTemplate.objects.filter(is_default=True)) == [first]
    event = AuditEvent.objects.get(action="template.make_default")
    assert (event.before, event.after) == (
        {"default": "python-web v2"},
        {"default": "python-web v1"},
    )


def test_it_refuses_a_developer_choosing_the_default(golden_path, developer):
    first = GoldenPathTemplate.objects.get(name="python-web", version=1)
    with pytest.raises(PermissionDenied):
        catalog.template_make_default(actor=developer, template=first)
    assert GoldenPathTemplate.objects.get(is_default=True) == golden_path


def test_the_database_holds_one_default_at_most(golden_path):
    first = GoldenPathTemplate.objects.get(name="python-web", version=1)
    first.is_default = True
    with pytest.raises(IntegrityError), transaction.atomic():
        first.save()


def test_it_refuses_strategy_parameters_the_executor_could_not_plan_naming_the_field(
    platform_admin,
):
    with pytest.raises(ValidationError) as refused:
        catalog.template_create(
            actor=platform_admin,
            name="python-web",
            title="Python web",
            strategy="canary",
            strategy_params={"steps": [{"set_weight": 50}]},
        )
    assert "last weight must be 100" in str(refused.value.message_dict["strategy_params"])
    assert not GoldenPathTemplate.objects.exists()


def test_the_api_creates_a_default_version_and_makes_an_older_one_the_default(
    api_as, platform_admin, developer
):
    client = api_as(platform_admin)
    payload = {
        "name": "python-web",
        "title": "Python web",
        "strategy": "canary",
        "strategy_params": VERIFIED_CANARY,
        "is_default": True,
    }
    first = client.post("/api/v1/templates/", {**payload, "is_default": False}, format="json")
    second = client.post("/api/v1/templates/", payload, format="json").json()
    assert second["is_default"] is True
    assert second["strategy_params"] == VERIFIED_CANARY

    url = f"/api/v1/templates/{first.json()['id']}/make-default/"
    assert api_as(developer).post(url).status_code == 403
    made = api_as(platform_admin).post(url)
    assert made.status_code == 200 and made.json()["is_default"] is True
    listed = {
        t["version"]: t["is_default"] for t in client.get("/api/v1/templates/").json()["results"]
    }
    assert listed == {1: True, 2: False}


def test_the_api_names_the_field_of_bad_strategy_parameters(api_as, platform_admin):
    payload = {"name": "web", "title": "Web", "strategy": "canary", "strategy_params": {"x": 1}}
    response = api_as(platform_admin).post("/api/v1/templates/", payload, format="json")
    assert response.status_code == 400
    assert "strategy_params" in response.json()


def test_a_service_made_through_the_api_from_the_golden_path_gets_its_canary_steps(
    api_as, developer, golden_path
):
    payload = {"name": "invoices", "owner": "payments", "template": golden_path.pk}
    response = api_as(developer).post("/api/v1/services/", payload, format="json")
    assert response.status_code == 201, response.json()
    service = Service.objects.get(name="invoices")
    assert (service.strategy, service.strategy_params) == ("canary", VERIFIED_CANARY)

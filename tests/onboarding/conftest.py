import pytest

from apps.catalog import services as catalog


@pytest.fixture
def python_web(platform_admin):
    """Golden-path template python-web: v1 is superseded by v2, which uses a canary."""
    catalog.template_create(actor=platform_admin, name="python-web", title="Python web")
    return catalog.template_create(
        actor=platform_admin,
        name="python-web",
        title="Python web",
        container_port=8000,
        health_path="/health/ready",
        cpu="500m",
        memory="512Mi",
        strategy="canary",
        language="python",
    )


@pytest.fixture
def checkout_system(platform_admin, payments):
    return catalog.system_create(actor=platform_admin, name="checkout", owner=payments)


BASICS = {
    "name": "ledger",
    "title": "Ledger",
    "description": "Keeps the books.",
    "owner": None,  # the test's team
    "system": "",
    "type": "service",
    "tier": "2",
    "lifecycle": "production",
    "repository_url": "https://git.example.com/payments/ledger",
    "tags": "Python, money , python",
}
RUNTIME = {
    "template": "",
    "image": "registry.example.com/ledger:1.0.0",
    "container_port": "8080",
    "replicas": "3",
    "cpu": "250m",
    "memory": "256Mi",
    "health_path": "/healthz",
    "autoscale_max": "6",
    "pdb_min_available": "2",
}
DELIVERY = {
    "strategy": "canary",
    "canary-TOTAL_FORMS": "4",
    "canary-INITIAL_FORMS": "4",
    "canary-0-type": "set_weight",
    "canary-0-value": "10",
    "canary-1-type": "pause",
    "canary-1-value": "",
    "canary-2-type": "analysis",
    "canary-2-value": "http-smoke",
    "canary-3-type": "set_weight",
    "canary-3-value": "100",
    "environments-TOTAL_FORMS": "2",
    "environments-INITIAL_FORMS": "2",
    "environments-0-name": "staging",
    "environments-0-kind": "staging",
    "environments-0-replicas": "1",
    "environments-0-namespace": "",
    "environments-1-name": "prod",
    "environments-1-kind": "production",
    "environments-1-replicas": "4",
    "environments-1-namespace": "ledger-live",
}
OPERATIONS = {
    "runbook_url": "https://wiki.example.com/ledger/runbook",
    "on_call": "#payments-oncall",
    "links-TOTAL_FORMS": "2",
    "links-INITIAL_FORMS": "2",
    "links-0-title": "Dashboard",
    "links-0-url": "https://grafana.example.com/d/ledger",
    "links-1-title": "",
    "links-1-url": "",
}


@pytest.fixture
def answers(payments):
    """A complete, valid set of answers, step by step, as the browser posts them."""
    return {
        "basics": {**BASICS, "owner": str(payments.pk)},
        "runtime": dict(RUNTIME),
        "delivery": dict(DELIVERY),
        "operations": dict(OPERATIONS),
    }


class Wizard:
    """A developer's browser on the wizard: `submit(step)` posts that step as htmx does."""

    def __init__(self, client, answers):
        self.client, self.answers = client, answers

    def submit(self, step, **changes):
        data = {**self.answers[step], **changes}
        return self.client.post(f"/onboard/steps/{step}/submit/", data, HTTP_HX_REQUEST="true")

    def complete(self, *steps):
        for step in steps or ("basics", "runtime", "delivery", "operations"):
            response = self.submit(step)
            assert response.status_code == 200
            assert "errorlist" not in response.content.decode(), step

    def create(self):
        return self.client.post("/onboard/create/", HTTP_HX_REQUEST="true")


@pytest.fixture
def wizard(client_as, developer, answers):
    return Wizard(client_as(developer), answers)

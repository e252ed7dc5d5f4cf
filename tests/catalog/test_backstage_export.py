from pathlib import Path

import pytest
import yaml

from apps.catalog.backstage.exporter import (
    export_queryset,
    service_catalog_info,
    service_catalog_info_yaml,
)
from apps.catalog.backstage.importer import catalog_import
from apps.catalog.backstage.refs import is_dns_label, parse_ref
from apps.catalog.models import (
    Api,
    ApiRelation,
    Dependency,
    Resource,
    Service,
    System,
    Tag,
)
from tests.factories import ServiceFactory

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "backstage"


STATE_FIELDS = (
    "title", "description", "type", "lifecycle", "tier", "strategy", "language", "on_call",
    "runbook_url", "repository_url", "links", "annotations",
)  # fmt: skip


def state(name: str) -> dict:
    """Everything Runway knows of a service that a catalog-info.yaml carries."""
    service = export_queryset().get(name=name)
    return {
        "fields": {field: getattr(service, field) for field in STATE_FIELDS},
        "owner": service.owner.slug,
        "system": service.system.name if service.system_id else None,
        "tags": sorted(tag.name for tag in service.tags.all()),
        "depends_on": sorted(
            (d.target_service or d.target_resource).name for d in service.dependencies.all()
        ),
        "apis": sorted((r.api.name, r.kind) for r in service.api_relations.all()),
        "extra": service.extra,
    }


@pytest.fixture
def checkout(payments):
    """A service with every part a descriptor carries, written directly."""
    system = System.objects.create(name="commerce", title="Commerce")
    ledger = ServiceFactory(name="ledger", owner=payments)
    database = Resource.objects.create(name="orders-db", type="database")
    api = Api.objects.create(name="checkout-api", type="openapi")
    events = Api.objects.create(name="payment-events", type="asyncapi")
    service = ServiceFactory(
        name="checkout",
        owner=payments,
        title="Checkout",
        description="Takes the money.\nTwice if it can.",
        system=system,
        type="worker",
        lifecycle="deprecated",
        tier=1,
        strategy="canary",
        language="python",
        on_call="#payments",
        runbook_url="https://runbooks.example.com/checkout",
        links=[{"title": "Dashboard", "url": "https://grafana.example.com/d/checkout"}],
        annotations={"github.com/project-slug": "acme/checkout"},
    )
    service.tags.set([Tag.objects.create(name="python"), Tag.objects.create(name="payments")])
    Dependency.objects.create(source=service, target_service=ledger)
    Dependency.objects.create(source=service, target_resource=database)
    ApiRelation.objects.create(service=service, api=api, kind="provides")
    ApiRelation.objects.create(service=service, api=events, kind="consumes")
    return service


@pytest.mark.django_db
def test_a_service_exports_as_a_valid_backstage_component(checkout):
    info = service_catalog_info(export_queryset().get(name="checkout"))

    assert (info["apiVersion"], info["kind"]) == ("backstage.io/v1alpha1", "Component")
    assert info["metadata"] == {
        "name": "checkout",
        "title": "Checkout",
        "description": "Takes the money.\nTwice if it can.",
        "tags": ["payments", "python"],
        "links": [{"url": "https://grafana.example.com/d/checkout", "title": "Dashboard"}],
        "annotations": {
            "github.com/project-slug": "acme/checkout",
            "runway.dev/tier": "1",
            "runway.dev/strategy": "canary",
            "runway.dev/language": "python",
            "runway.dev/on-call": "#payments",
            "runway.dev/runbook-url": "https://runbooks.example.com/checkout",
        },
    }
    assert info["spec"] == {
        "type": "worker",
        "lifecycle": "deprecated",
        "owner": "group:default/payments",
        "system": "system:default/commerce",
        "dependsOn": ["component:default/ledger", "resource:default/orders-db"],
        "providesApis": ["api:default/checkout-api"],
        "consumesApis": ["api:default/payment-events"],
    }
    assert is_dns_label(info["metadata"]["name"])
    for field in ("owner", "system"):
        assert parse_ref(info["spec"][field], field=field).namespace == "default"


@pytest.mark.django_db
def test_the_yaml_is_the_descriptor_and_keeps_multiline_text_readable(checkout):
    text = service_catalog_info_yaml(checkout)
    assert yaml.safe_load(text) == service_catalog_info(checkout)
    assert "description: |-\n    Takes the money.\n    Twice if it can.\n" in text
    assert text.startswith("apiVersion: backstage.io/v1alpha1\nkind: Component\n")


@pytest.mark.django_db
def test_export_then_import_gives_the_same_service_back(checkout, platform_admin):
    before = state("checkout")
    text = service_catalog_info_yaml(checkout)
    checkout.delete()

    report = catalog_import(actor=platform_admin, sources=[("catalog-info.yaml", text)])

    assert report.errors == [] and report.warnings == []
    after = state("checkout")
    assert after.pop("extra") == {"backstage": {"name": "checkout", "namespace": "default"}}
    before.pop("extra")
    assert after == before
    assert service_catalog_info_yaml(Service.objects.get(name="checkout")) == text


@pytest.mark.django_db
def test_imported_samples_export_and_import_to_the_same_state(platform_admin):
    samples = [(p.name, p.read_text()) for p in sorted(SAMPLES.glob("*.yaml"))]
    catalog_import(actor=platform_admin, sources=samples)
    names = ["backstage-existing", "one-platform-api-catalog-service"]
    before = {name: state(name) for name in names}
    exported = {name: service_catalog_info_yaml(Service.objects.get(name=name)) for name in names}

    # Unresolved references and the original namespace travel in the export.
    api_catalog = yaml.safe_load(exported["one-platform-api-catalog-service"])
    assert api_catalog["metadata"]["namespace"] == "devex"
    assert api_catalog["spec"]["system"] == "system:devex/one-platform"
    assert api_catalog["spec"]["dependsOn"] == ["resource:devex/native-apps-mongodb"]
    assert api_catalog["spec"]["dependencyOf"] == ["component:devex/one-platform-api-gateway"]

    Service.objects.all().delete()
    report = catalog_import(actor=platform_admin, sources=list(exported.items()))

    assert report.errors == []
    assert report.counts["Component"] == {"created": 2, "updated": 0}
    assert {name: state(name) for name in names} == before
    again = {name: service_catalog_info_yaml(Service.objects.get(name=name)) for name in names}
    assert again == exported


@pytest.mark.django_db
def test_an_original_type_and_lifecycle_come_back_until_runway_changes_them(
    platform_admin, payments
):
    text = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: docs}\n"
        "spec: {type: documentation, lifecycle: beta, owner: payments}\n"
    )
    catalog_import(actor=platform_admin, sources=[("a.yaml", text)])
    service = Service.objects.get()
    assert service_catalog_info(service)["spec"]["type"] == "documentation"
    assert service_catalog_info(service)["spec"]["lifecycle"] == "beta"

    service.type, service.lifecycle = "website", "production"
    spec = service_catalog_info(service)["spec"]
    assert (spec["type"], spec["lifecycle"]) == ("website", "production")


@pytest.mark.django_db
def test_exporting_many_services_takes_a_fixed_number_of_queries(
    checkout, django_assert_num_queries
):
    for number in range(20):
        ServiceFactory(name=f"extra-{number}", owner=checkout.owner)
    with django_assert_num_queries(4):
        documents = [service_catalog_info(service) for service in export_queryset()]
    assert len(documents) == 22

"""The import's planner on its own: documents in, planned rows and issues out. None of these
tests has a database; one that touched it would fail."""

import yaml

from apps.catalog.backstage.loader import load_documents
from apps.catalog.backstage.planner import OTHER, plan_import


def plan(*documents, admin: bool = True, source: str = "a.yaml"):
    text = yaml.safe_dump_all(documents, sort_keys=False) if documents else ""
    return plan_import(load_documents(source, text), admin=admin)


def component(name: str, **spec) -> dict:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": "payments", **spec},
    }


def test_a_component_becomes_a_service_row_with_its_references_left_to_resolve():
    document = component(
        "Checkout_API",
        system="shop",
        dependsOn=["component:ledger", "resource:default/orders-db", "component:ledger"],
        providesApis=["checkout-api"],
    )
    document["metadata"].update(
        title="Checkout",
        tags=["Payments", "payments", "edge"],
        links=[{"url": "https://docs.example.com"}],
        annotations={"runway.dev/tier": "1", "github.com/project-slug": "acme/checkout"},
    )

    result = plan(document)

    (entity,) = result.entities
    assert (entity.kind, entity.label, entity.runway) == ("component", "Component", "checkout-api")
    assert entity.row == {
        "title": "Checkout",
        "description": "",
        "type": "service",
        "lifecycle": "production",
        "links": [{"url": "https://docs.example.com", "title": "https://docs.example.com"}],
        "annotations": {"github.com/project-slug": "acme/checkout"},
        "tier": 1,
    }
    assert entity.tags == ["payments", "edge"]
    assert (str(entity.owner), str(entity.system)) == (
        "group:default/payments",
        "system:default/shop",
    )
    assert {name: [str(ref) for ref in refs] for name, refs in entity.relations.items()} == {
        "dependsOn": ["component:default/ledger", "resource:default/orders-db"],
        "dependencyOf": [],
        "providesApis": ["api:default/checkout-api"],
        "consumesApis": [],
    }
    assert entity.extra == {"name": "Checkout_API", "namespace": "default"}
    assert result.errors == [] and result.warnings == []


def test_a_bad_field_fails_its_entity_only_and_names_the_document_and_field():
    bad = component("bad")
    bad["metadata"]["tags"] = "a,b"

    result = plan(component("first"), bad, component("last"))

    assert [(e.source, e.document, e.field) for e in result.errors] == [
        ("a.yaml", 2, "metadata.tags")
    ]
    assert [entity.runway for entity in result.live()] == ["first", "last"]
    assert [entity.runway for entity in result.live("component")] == ["first", "last"]


def test_unknown_type_and_lifecycle_fall_back_and_keep_the_original_in_extra():
    result = plan(component("docs", type="documentation", lifecycle="beta"))

    (entity,) = result.entities
    assert (entity.row["type"], entity.row["lifecycle"]) == ("service", "experimental")
    assert (entity.extra["type"], entity.extra["lifecycle"]) == ("documentation", "beta")
    assert [w.field for w in result.warnings] == ["spec.type", "spec.lifecycle"]


def test_a_relation_to_the_wrong_kind_is_kept_in_extra_with_a_warning():
    result = plan(component("checkout", providesApis=["component:ledger"]))

    (entity,) = result.entities
    assert entity.relations["providesApis"] == []
    assert entity.unresolved == {"providesApis": ["component:default/ledger"]}
    assert [w.field for w in result.warnings] == ["spec.providesApis[0]"]


def test_two_documents_with_one_runway_name_keep_the_first():
    result = plan(component("My_Service"), component("my-service"))

    assert [entity.name for entity in result.live()] == ["My_Service"]
    assert "already defined in a.yaml document 1" in result.errors[0].message


def test_only_admins_plan_groups_systems_and_other_kinds():
    documents = [
        {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}}
        for kind in ("Group", "System", "Location")
    ]

    as_developer = plan(*documents, admin=False)
    as_admin = plan(*documents, admin=True)

    assert [(e.document, e.field) for e in as_developer.errors] == [
        (1, "kind"),
        (2, "kind"),
        (3, "kind"),
    ]
    assert as_developer.live() == []
    assert as_admin.errors == []
    assert [entity.kind for entity in as_admin.live()] == ["group", "system", OTHER]


def test_a_group_becomes_a_team_row_named_by_its_display_name():
    group = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": "Billing_Team", "description": "Money"},
        "spec": {"type": "team", "profile": {"displayName": "Billing"}, "children": []},
    }

    (entity,) = plan(group).entities

    assert entity.row == {"slug": "billing-team", "name": "Billing", "description": "Money"}
    assert entity.extra == {
        "name": "Billing_Team",
        "namespace": "default",
        "spec": {"type": "team", "children": []},
    }


def test_empty_and_non_entity_documents_are_counted_and_skipped():
    text = "---\n---\n- a list\n---\n" + yaml.safe_dump(component("ok"))

    result = plan_import(load_documents("mixed.yaml", text), admin=True)

    assert result.skipped_documents == 1
    assert [(w.document, w.field) for w in result.warnings] == [(2, "")]
    assert [entity.runway for entity in result.live()] == ["ok"]

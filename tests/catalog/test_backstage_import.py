import shutil
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import PermissionDenied

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.audit.models import AuditEvent
from apps.catalog.backstage.importer import catalog_import, collect_from_paths
from apps.catalog.backstage.loader import (
    MAX_ALIASES_PER_DOCUMENT,
    MAX_SOURCE_BYTES,
    InvalidYaml,
    SourceError,
    SourceTooLarge,
    UnsafeYaml,
    load_documents,
)
from apps.catalog.manifests import render_manifests
from apps.catalog.models import (
    Api,
    ApiRelation,
    Dependency,
    Environment,
    ImportedEntity,
    Resource,
    Service,
    System,
    Tier,
)
from apps.catalog.services import service_create
from tests.factories import ServiceFactory

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "backstage"
BACKSTAGE = SAMPLES / "backstage__backstage__catalog-info.yaml"
ROOT_LOCATION = SAMPLES / "1-Platform__one-platform__catalog-info.yaml"
API_CATALOG = SAMPLES / "1-Platform__one-platform__packages__api-catalog-service__catalog-info.yaml"
MONGODB = SAMPLES / "1-Platform__one-platform__catalog__resources__NonNativeMongoDB.yaml"


def source(path: Path) -> tuple[str, str]:
    return (path.name, path.read_text())


def all_samples() -> list[tuple[str, str]]:
    return [source(path) for path in sorted(SAMPLES.glob("*.yaml"))]


def component(name: str, owner: str = "payments", **spec) -> dict:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": owner, **spec},
    }


def stream(*documents: dict) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


def fields_of(issues) -> set[tuple[str, str]]:
    return {(issue.field, issue.message) for issue in issues}


def test_the_shared_samples_are_where_the_tests_expect_them():
    assert {path.name for path in SAMPLES.glob("*.yaml")} >= {
        BACKSTAGE.name,
        ROOT_LOCATION.name,
        API_CATALOG.name,
        MONGODB.name,
    }


# What each sample may warn about when imported on its own by a platform admin: nothing else.
EXPECTED_WARNINGS = {
    BACKSTAGE.name: {"spec.owner"},
    ROOT_LOCATION.name: set(),
    API_CATALOG.name: {"spec.owner", "spec.system", "spec.dependsOn", "spec.dependencyOf"},
    MONGODB.name: {"spec.owner", "spec.system"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shared_sample_imports_with_only_the_expected_warnings(platform_admin, path):
    report = catalog_import(actor=platform_admin, sources=[source(path)])
    assert report.errors == []
    assert sum(count["created"] for count in report.counts.values()) >= 1
    assert {issue.field for issue in report.warnings} == EXPECTED_WARNINGS[path.name]
    assert all(issue.source == path.name and issue.document == 1 for issue in report.warnings)


@pytest.mark.django_db
def test_backstage_itself_becomes_a_library_owned_by_team_cncf(platform_admin):
    report = catalog_import(actor=platform_admin, sources=[source(BACKSTAGE)])

    service = Service.objects.select_related("owner").get(name="backstage-existing")
    assert (service.owner.slug, service.owner.name) == ("cncf", "CNCF")
    assert (service.type, service.lifecycle) == ("library", "production")
    assert service.description == (
        "Backstage is an open-source developer portal that puts the developer experience first."
    )
    assert [link["title"] for link in service.links] == [
        "Website",
        "Documentation",
        "Storybook",
        "Discord Chat",
    ]
    assert service.links[0]["url"] == "http://backstage.io"
    assert service.annotations == {
        "github.com/project-slug": "backstage/backstage",
        "backstage.io/techdocs-ref": "dir:.",
        "lighthouse.com/website-url": "https://backstage.io",
    }
    assert service.extra["backstage"] == {"name": "backstage-existing", "namespace": "default"}
    assert report.created == {"Component": ["backstage-existing"], "Group": ["cncf"]}
    assert fields_of(report.warnings) == {
        ("spec.owner", "Created team cncf from owner reference group:default/CNCF.")
    }


@pytest.mark.django_db
def test_an_owner_named_in_another_case_finds_the_existing_team(platform_admin):
    Team.objects.create(slug="cncf", name="Cloud Native Computing Foundation")
    report = catalog_import(actor=platform_admin, sources=[source(BACKSTAGE)])
    assert report.warnings == [] and report.created == {"Component": ["backstage-existing"]}
    assert Service.objects.get().owner.name == "Cloud Native Computing Foundation"


@pytest.mark.django_db
def test_one_platform_api_catalog_service_keeps_its_system_title_tags_and_annotations(
    platform_admin,
):
    report = catalog_import(actor=platform_admin, sources=all_samples())
    assert report.errors == []

    service = Service.objects.select_related("owner", "system").get(
        name="one-platform-api-catalog-service"
    )
    assert service.system.name == "one-platform"
    assert service.system.extra["backstage"] == {"name": "one-platform", "namespace": "devex"}
    assert service.title == "API Catalog Microservice"
    assert service.owner.slug == "one-platform-devs"
    assert sorted(service.tags.values_list("name", flat=True)) == [
        "api-catalog",
        "developers",
        "microservice",
        "nodejs",
        "one-platform",
    ]
    assert service.annotations == {
        "github.com/project-slug": "1-Platform/one-platform",
        "backstage.io/techdocs-ref": "dir:.",
        "servicenow.com/appcode": "ONEP-007",
        "jira/project-key": "APD",
        "jira/component": "One-Platform",
        "feedback/type": "JIRA",
    }
    # The samples do not include native-apps-mongodb, nor the gateway: both relations are kept
    # for later (and for export), and reported.
    assert service.extra["backstage"] == {
        "name": "one-platform-api-catalog-service",
        "namespace": "devex",
        "unresolved": {
            "dependsOn": ["resource:devex/native-apps-mongodb"],
            "dependencyOf": ["component:devex/one-platform-api-gateway"],
        },
    }
    assert not Dependency.objects.exists()
    assert (API_CATALOG.name, 1, "spec.dependsOn") in {
        (issue.source, issue.document, issue.field) for issue in report.warnings
    }

    mongodb = Resource.objects.select_related("owner", "system").get(name="non-native-apps-mongodb")
    assert (mongodb.type, mongodb.title) == ("database", "Non Native Apps MongoDB")
    assert (mongodb.owner.slug, mongodb.system.name) == ("one-platform-devs", "one-platform")
    assert mongodb.extra["backstage"]["spec"] == {"lifecycle": "production"}
    assert mongodb.extra["backstage"]["metadata"]["tags"] == ["mongodb", "one-platform", "native"]

    location = ImportedEntity.objects.get()
    assert (location.kind, location.namespace, location.name) == (
        "Location",
        "devex",
        "one-platform-root-config",
    )
    assert location.document == yaml.safe_load(ROOT_LOCATION.read_text())
    assert location.source == ROOT_LOCATION.name


@pytest.mark.django_db
def test_the_depends_on_resource_is_recorded_once_the_resource_exists(platform_admin):
    native = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Resource",
        "metadata": {"name": "native-apps-mongodb", "namespace": "devex"},
        "spec": {"type": "database", "owner": "group:redhat/one-platform-devs"},
    }
    # The component comes first: its dependency is a forward reference.
    report = catalog_import(
        actor=platform_admin, sources=[source(API_CATALOG), ("native.yaml", stream(native))]
    )
    dependency = Dependency.objects.select_related("source", "target_resource").get()
    assert dependency.source.name == "one-platform-api-catalog-service"
    assert dependency.target_resource.name == "native-apps-mongodb"
    assert report.relations["dependsOn"] == 1
    unresolved = dependency.source.extra["backstage"]["unresolved"]
    assert "dependsOn" not in unresolved and "dependencyOf" in unresolved


@pytest.mark.django_db
def test_locations_are_followed_from_a_folder_and_a_missing_target_is_a_warning(
    tmp_path, platform_admin
):
    shutil.copy(ROOT_LOCATION, tmp_path / "catalog-info.yaml")
    (tmp_path / "catalog" / "resources").mkdir(parents=True)
    shutil.copy(MONGODB, tmp_path / "catalog" / "resources" / "NonNativeMongoDB.yaml")
    (tmp_path / "packages" / "api-catalog-service").mkdir(parents=True)
    shutil.copy(API_CATALOG, tmp_path / "packages" / "api-catalog-service" / "catalog-info.yaml")
    # The Location names OnePlatform.yaml; the file in the repository is .yml.
    (tmp_path / "catalog" / "systems").mkdir()
    (tmp_path / "catalog" / "systems" / "OnePlatform.yml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: System\n"
        "metadata: {name: one-platform, namespace: devex, title: One Platform}\n"
        "spec: {owner: group:redhat/one-platform-devs}\n"
    )

    sources = collect_from_paths([tmp_path / "catalog-info.yaml"])

    labels = [Path(label).relative_to(tmp_path).as_posix() for label, _ in sources]
    assert labels == [
        "catalog-info.yaml",
        "catalog/resources/NonNativeMongoDB.yaml",
        "packages/api-catalog-service/catalog-info.yaml",
    ]
    root_label = str(tmp_path / "catalog-info.yaml")
    missing = {issue.field: issue.message for issue in sources.warnings}
    assert len(missing) == 21 - 2
    assert all(issue.source == root_label and issue.document == 1 for issue in sources.warnings)
    assert missing["spec.targets[2]"] == (
        "./catalog/systems/OnePlatform.yaml was not found. Skipped. "
        "(OnePlatform.yml exists: is the extension wrong?)"
    )
    assert missing["spec.targets[0]"].startswith("./catalog/resources/NativeMongoDB.yaml was not")

    report = catalog_import(actor=platform_admin, sources=sources)
    assert report.errors == []
    assert set(sources.warnings) <= set(report.warnings)
    assert Service.objects.filter(name="one-platform-api-catalog-service").exists()
    assert Resource.objects.filter(name="non-native-apps-mongodb").exists()
    assert ImportedEntity.objects.filter(kind="Location").count() == 1


def test_a_folder_is_searched_for_yaml_and_yml_and_each_file_is_read_once(tmp_path):
    shutil.copy(ROOT_LOCATION, tmp_path / "catalog-info.yaml")
    (tmp_path / "packages" / "api-catalog-service").mkdir(parents=True)
    shutil.copy(API_CATALOG, tmp_path / "packages" / "api-catalog-service" / "catalog-info.yaml")
    (tmp_path / "extra.yml").write_text(BACKSTAGE.read_text())
    (tmp_path / "notes.txt").write_text("kind: Component")

    sources = collect_from_paths([tmp_path])

    labels = sorted(Path(label).relative_to(tmp_path).as_posix() for label, _ in sources)
    assert labels == [
        "catalog-info.yaml",
        "extra.yml",
        "packages/api-catalog-service/catalog-info.yaml",
    ]


def test_urls_and_absolute_paths_in_a_location_are_reported_and_not_followed(tmp_path):
    (tmp_path / "here.yaml").write_text(stream(component("here")))
    location = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": "mixed"},
        "spec": {
            "targets": [
                "https://github.com/acme/repo/blob/main/catalog-info.yaml",
                "/etc/passwd",
                "./here.yaml",
                "./*.nothing",
            ]
        },
    }
    (tmp_path / "location.yaml").write_text(stream(location))

    sources = collect_from_paths([tmp_path / "location.yaml"])

    assert [Path(label).name for label, _ in sources] == ["location.yaml", "here.yaml"]
    messages = {issue.field: issue.message for issue in sources.warnings}
    assert set(messages) == {"spec.targets[0]", "spec.targets[1]", "spec.targets[3]"}
    assert "is a URL" in messages["spec.targets[0]"]
    assert "absolute path" in messages["spec.targets[1]"]
    assert "matches no file" in messages["spec.targets[3]"]


def test_a_path_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        collect_from_paths([tmp_path / "nope"])


@pytest.mark.django_db
def test_importing_the_same_files_again_updates_in_place(platform_admin):
    first = catalog_import(actor=platform_admin, sources=all_samples())
    counts = [
        model.objects.count()
        for model in (Service, Team, System, Resource, ImportedEntity, Dependency)
    ]
    tags = Service.tags.through.objects.count()

    second = catalog_import(actor=platform_admin, sources=all_samples())

    assert counts == [
        model.objects.count()
        for model in (Service, Team, System, Resource, ImportedEntity, Dependency)
    ]
    assert Service.tags.through.objects.count() == tags == 5
    assert first.counts["Component"] == {"created": 2, "updated": 0}
    assert second.counts["Component"] == {"created": 0, "updated": 2}
    assert second.counts["Resource"] == {"created": 0, "updated": 1}
    assert second.counts["Location"] == {"created": 0, "updated": 1}
    assert "Group" not in second.counts and "System" not in second.counts


@pytest.mark.django_db
def test_reimporting_replaces_the_declared_relations_and_keeps_runway_fields(platform_admin):
    catalog_import(
        actor=platform_admin,
        sources=[
            (
                "v1.yaml",
                stream(
                    component("checkout", dependsOn=["component:ledger", "component:fraud"]),
                    component("ledger"),
                    component("fraud"),
                ),
            )
        ],
    )
    Service.objects.filter(name="checkout").update(tier=Tier.CRITICAL, language="go")
    assert Dependency.objects.filter(source__name="checkout").count() == 2

    catalog_import(
        actor=platform_admin,
        sources=[("v2.yaml", stream(component("checkout", dependsOn=["ledger"])))],
    )

    checkout = Service.objects.get(name="checkout")
    assert list(checkout.dependencies.values_list("target_service__name", flat=True)) == ["ledger"]
    assert (checkout.tier, checkout.language) == (Tier.CRITICAL, "go")


@pytest.mark.django_db
def test_runway_annotations_set_runway_fields_and_are_not_kept_as_annotations(platform_admin):
    document = component("checkout")
    document["metadata"]["annotations"] = {
        "runway.dev/tier": "1",
        "runway.dev/strategy": "canary",
        "runway.dev/on-call": "#payments-oncall",
        "other/thing": 7,
    }
    catalog_import(actor=platform_admin, sources=[("a.yaml", stream(document))])
    service = Service.objects.get()
    assert (service.tier, service.strategy, service.on_call) == (1, "canary", "#payments-oncall")
    assert service.annotations == {"other/thing": "7"}


@pytest.mark.django_db
def test_unknown_types_and_lifecycles_fall_back_with_a_warning_and_keep_the_original(
    platform_admin, payments
):
    document = component("docs-site", type="documentation", lifecycle="beta")
    document["spec"]["subcomponentOf"] = "portal"
    document["metadata"]["labels"] = {"team": "docs"}
    report = catalog_import(actor=platform_admin, sources=[("a.yaml", stream(document))])

    service = Service.objects.get()
    assert (service.type, service.lifecycle) == ("service", "experimental")
    assert service.extra["backstage"]["type"] == "documentation"
    assert service.extra["backstage"]["lifecycle"] == "beta"
    assert service.extra["backstage"]["spec"] == {"subcomponentOf": "portal"}
    assert service.extra["backstage"]["metadata"] == {"labels": {"team": "docs"}}
    assert {issue.field for issue in report.warnings} == {"spec.type", "spec.lifecycle"}
    assert report.errors == []


@pytest.mark.django_db
def test_dependency_of_records_that_the_target_depends_on_this_component(platform_admin):
    catalog_import(
        actor=platform_admin,
        sources=[
            ("a.yaml", stream(component("gateway"), component("ledger", dependencyOf=["gateway"])))
        ],
    )
    dependency = Dependency.objects.select_related("source", "target_service").get()
    assert (dependency.source.name, dependency.target_service.name) == ("gateway", "ledger")


@pytest.mark.django_db
def test_apis_groups_and_systems_are_imported_with_their_relations(platform_admin):
    documents = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": "Billing_Team", "description": "Money"},
            "spec": {"type": "team", "profile": {"displayName": "Billing"}, "children": []},
        },
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "System",
            "metadata": {"name": "payments-platform", "title": "Payments platform"},
            "spec": {"owner": "billing_team", "domain": "commerce"},
        },
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "API",
            "metadata": {"name": "invoices-api"},
            "spec": {
                "type": "openapi",
                "lifecycle": "production",
                "owner": "billing_team",
                "system": "payments-platform",
                "definition": "openapi: 3.0.0\ninfo: {title: Invoices, version: '1'}\n",
            },
        },
        component(
            "invoicing",
            owner="group:default/billing_team",
            system="payments-platform",
            providesApis=["invoices-api"],
            consumesApis=["api:default/invoices-api"],
        ),
    ]
    report = catalog_import(actor=platform_admin, sources=[("a.yaml", stream(*documents))])
    assert report.errors == [] and report.warnings == []

    team = Team.objects.get(slug="billing-team")
    assert (team.name, team.description) == ("Billing", "Money")
    system = System.objects.get()
    assert (system.title, system.owner, system.domain) == ("Payments platform", team, "commerce")
    api = Api.objects.get()
    assert (api.type, api.owner, api.system) == ("openapi", team, system)
    assert api.definition.startswith("openapi: 3.0.0")
    service = Service.objects.get()
    assert (service.owner, service.system) == (team, system)
    assert sorted(ApiRelation.objects.values_list("service__name", "api__name", "kind")) == [
        ("invoicing", "invoices-api", "consumes"),
        ("invoicing", "invoices-api", "provides"),
    ]
    assert report.counts == {
        "API": {"created": 1, "updated": 0},
        "Component": {"created": 1, "updated": 0},
        "Group": {"created": 1, "updated": 0},
        "System": {"created": 1, "updated": 0},
    }


def _set(path: str, value):
    """A change to a document: set `value` at a dotted path ("" replaces the document)."""

    def change(document: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            document = document[key]
        document[last] = value

    return change


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (_set("metadata.name", "Bad Name!"), "metadata.name", "cannot become a Runway name"),
        (_set("metadata.name", "x" * 70), "metadata.name", "longer than 63"),
        (_set("metadata.title", "t" * 201), "metadata.title", "at most 200"),
        (_set("metadata.links", "http://x"), "metadata.links", "must be a list"),
        (_set("metadata.tags", "a,b"), "metadata.tags", "must be a list"),
        (
            _set("metadata.annotations", {"runway.dev/runbook-url": "nope"}),
            "metadata.annotations[runway.dev/runbook-url]",
            "valid URL",
        ),
        (_set("spec", {"type": "service"}), "spec.owner", "needs an owner"),
        (_set("spec.owner", "user:jdoe"), "spec.owner", "not a group"),
        (_set("spec.owner", "group:default/"), "spec.owner", "not of the form"),
        (_set("spec.dependsOn", "ledger"), "spec.dependsOn", "a list"),
        (_set("metadata", None), "metadata", "needs metadata"),
        (_set("kind", None), "kind", "needs a kind"),
        (_set("spec", ["owner"]), "spec", "a mapping"),
    ],
)
def test_a_bad_entity_is_reported_with_file_document_and_field_while_the_others_import(
    platform_admin, payments, change, field, message
):
    bad = component("bad")
    change(bad)
    text = stream(component("first"), bad, component("last"))

    report = catalog_import(actor=platform_admin, sources=[("team.yaml", text)])

    assert [(e.source, e.document, e.field) for e in report.errors] == [("team.yaml", 2, field)]
    assert message in report.errors[0].message
    assert sorted(Service.objects.values_list("name", flat=True)) == ["first", "last"]


@pytest.mark.django_db
def test_two_entities_with_one_runway_name_are_reported_as_a_duplicate(platform_admin, payments):
    text = stream(component("My_Service"), component("my-service"))
    report = catalog_import(actor=platform_admin, sources=[("a.yaml", text)])
    assert [(e.document, e.field) for e in report.errors] == [(2, "metadata.name")]
    assert "already defined in a.yaml document 1" in report.errors[0].message
    assert Service.objects.get().extra["backstage"]["name"] == "My_Service"


@pytest.mark.django_db
def test_empty_and_non_entity_documents_are_skipped_and_reported(platform_admin, payments):
    text = "---\n---\n- a list\n---\ncatalog: {locations: []}\n---\n" + stream(component("ok"))
    report = catalog_import(actor=platform_admin, sources=[("mixed.yaml", text)])
    assert report.errors == []
    assert report.skipped_documents == 1
    assert [(w.document, w.field) for w in report.warnings] == [(2, ""), (3, "")]
    assert "not an entity" in report.warnings[0].message
    assert "Not a Backstage entity" in report.warnings[1].message
    assert Service.objects.get().name == "ok"


BILLION_LAUGHS = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: lol
  annotations:
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
spec: {type: service, owner: payments}
"""


@pytest.mark.django_db
def test_a_yaml_bomb_is_refused_and_nothing_is_written(platform_admin, payments):
    sources = [("good.yaml", stream(component("good"))), ("bomb.yaml", BILLION_LAUGHS)]
    with pytest.raises(UnsafeYaml) as caught:
        catalog_import(actor=platform_admin, sources=sources)
    assert caught.value.source == "bomb.yaml" and caught.value.line == 1
    assert not Service.objects.exists()
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


def test_too_many_aliases_in_one_document_are_refused():
    aliases = ", ".join(["*x"] * (MAX_ALIASES_PER_DOCUMENT + 1))
    with pytest.raises(UnsafeYaml, match="more than 100 aliases"):
        load_documents("a.yaml", f"x: &x 1\ny: [{aliases}]\n")
    load_documents("a.yaml", "x: &x 1\ny: [*x, *x, *x]\n")  # a few are fine


def test_an_alias_that_contains_itself_is_refused():
    with pytest.raises(UnsafeYaml, match="alias to itself"):
        load_documents("a.yaml", "a: &a [1, *a]\n")


@pytest.mark.django_db
def test_an_oversized_source_is_refused_before_parsing(platform_admin, tmp_path):
    text = "# padding\n" * (MAX_SOURCE_BYTES // 10 + 1)
    with pytest.raises(SourceTooLarge, match="limit is 5,242,880 bytes"):
        catalog_import(actor=platform_admin, sources=[("big.yaml", text)])
    (tmp_path / "big.yaml").write_text(text)
    with pytest.raises(SourceTooLarge):
        collect_from_paths([tmp_path])
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


@pytest.mark.django_db
def test_unparseable_yaml_names_the_source_and_line(platform_admin, payments):
    text = stream(component("fine")) + "---\nkind: Component\nmetadata:\n  name: [unclosed\n"
    with pytest.raises(InvalidYaml) as caught:
        catalog_import(actor=platform_admin, sources=[("broken.yaml", text)])
    error = caught.value
    assert error.source == "broken.yaml" and error.document == 2
    assert error.line == text.count("\n") + 1
    assert str(error).startswith(f"broken.yaml, line {error.line}: document 2:")
    assert not Service.objects.exists()


def test_timestamps_stay_text_and_every_document_is_json():
    (doc,) = load_documents("a.yaml", "when: 2024-01-02\n1: one\nnan: .nan\n")
    assert doc.data == {"when": "2024-01-02", "1": "one", "nan": "nan"}
    assert (doc.index, doc.line) == (1, 1)


# --- Permissions -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_developer_imports_their_teams_component_but_not_another_teams(developer, search):
    text = stream(component("checkout", owner="payments"), component("indexer", owner="search"))
    report = catalog_import(actor=developer, sources=[("mixed.yaml", text)])

    assert list(Service.objects.values_list("name", flat=True)) == ["checkout"]
    assert report.errors == [
        ("mixed.yaml", 2, "spec.owner", "You are not a member of team search.")
    ]


@pytest.mark.django_db
def test_a_developer_cannot_take_over_another_teams_service_by_naming_their_own_team(
    developer, search
):
    ServiceFactory(name="indexer", owner=search)
    report = catalog_import(
        actor=developer, sources=[("a.yaml", stream(component("indexer", owner="payments")))]
    )
    assert [(e.field, e.message) for e in report.errors] == [
        (
            "spec.owner",
            "Component indexer already exists and belongs to team search; "
            "you are not a member of team search.",
        )
    ]
    assert Service.objects.get(name="indexer").owner == search


@pytest.mark.django_db
def test_a_developer_cannot_import_groups_systems_or_other_kinds(developer):
    documents = [
        {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}}
        for kind in ("Group", "System", "Domain", "Location")
    ]
    report = catalog_import(actor=developer, sources=[("a.yaml", stream(*documents))])
    assert [(e.document, e.field) for e in report.errors] == [(n, "kind") for n in (1, 2, 3, 4)]
    assert report.errors[0].message == "Only platform admins import Group entities."
    assert not Team.objects.filter(slug="x").exists() and not ImportedEntity.objects.exists()


@pytest.mark.django_db
def test_a_developer_does_not_create_teams_or_systems_from_references(developer):
    text = stream(component("checkout", owner="payments", system="brand-new"))
    report = catalog_import(actor=developer, sources=[("a.yaml", text)])
    assert report.errors == []
    assert [w.field for w in report.warnings] == ["spec.system"]
    assert not System.objects.exists()
    service = Service.objects.get()
    assert service.system is None
    assert service.extra["backstage"]["unresolved"] == {"system": ["system:default/brand-new"]}

    report = catalog_import(actor=developer, sources=[("b.yaml", stream(component("x", "nobody")))])
    assert [(e.field, e.message) for e in report.errors] == [
        ("spec.owner", "You are not a member of team nobody.")
    ]
    assert not Team.objects.filter(slug="nobody").exists()


@pytest.mark.django_db
def test_a_developer_does_not_record_dependencies_for_another_teams_service(developer, search):
    ServiceFactory(name="indexer", owner=search)
    text = stream(component("checkout", dependencyOf=["indexer"], dependsOn=["indexer"]))
    report = catalog_import(actor=developer, sources=[("a.yaml", text)])
    assert list(Dependency.objects.values_list("source__name", "target_service__name")) == [
        ("checkout", "indexer")
    ]
    assert [w.field for w in report.warnings] == ["spec.dependencyOf"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["leadership", "outsider", "release_manager"])
def test_people_who_change_nothing_may_not_import_at_all(request, persona, payments):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        catalog_import(actor=user, sources=[("a.yaml", stream(component("checkout")))])
    assert not Service.objects.exists()
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


@pytest.mark.django_db
def test_runway_itself_imports_only_when_it_says_so(payments):
    with pytest.raises(PermissionDenied):
        catalog_import(actor=None, sources=[("a.yaml", stream(component("checkout")))])
    catalog_import(actor=None, sources=[("a.yaml", stream(component("checkout")))], as_system=True)
    assert AuditEvent.objects.get(action="catalog.import").actor_label == "runway"


# --- Environments and manifests: as the catalog's services make them -------------------------


def environment_specs(service: Service) -> list[tuple]:
    return [
        (env.name, env.kind, env.order, env.namespace, env.replicas, env.cluster_id)
        for env in service.environments.order_by("order")
    ]


@pytest.mark.django_db
def test_an_imported_service_gets_the_environments_and_manifests_a_created_one_gets(
    platform_admin, developer, payments
):
    created = service_create(actor=developer, name="ledger", owner=payments)

    catalog_import(actor=platform_admin, sources=[("a.yaml", stream(component("checkout")))])

    imported = Service.objects.select_related("owner").get(name="checkout")
    assert (
        environment_specs(imported)
        == environment_specs(created)
        == [
            ("dev", "development", 1, "payments-dev", 1, None),
            ("staging", "staging", 2, "payments-staging", 1, None),
            ("prod", "production", 3, "payments-prod", 2, None),
        ]
    )
    assert [manifest["kind"] for manifest in imported.manifests] == ["Deployment", "Service"]
    assert imported.manifests == render_manifests(imported)
    assert imported.manifests[0]["metadata"]["labels"]["runway.dev/team"] == "payments"


@pytest.mark.django_db
def test_reimporting_keeps_the_environments_and_makes_the_manifests_again_from_the_whole_row(
    platform_admin, payments
):
    catalog_import(actor=platform_admin, sources=[("a.yaml", stream(component("checkout")))])
    checkout = Service.objects.get(name="checkout")
    checkout.environments.filter(name="staging").delete()
    Service.objects.filter(pk=checkout.pk).update(cpu="2", replicas=4, autoscale_max=8)

    document = component("checkout", system="payments-platform")
    document["metadata"]["annotations"] = {"runway.dev/strategy": "canary"}
    catalog_import(actor=platform_admin, sources=[("b.yaml", stream(document))])

    checkout = Service.objects.select_related("owner", "system").get(name="checkout")
    assert [env.name for env in checkout.environments.all()] == ["dev", "prod"]
    assert (checkout.cpu, checkout.replicas, checkout.strategy) == ("2", 4, "canary")
    assert checkout.manifests == render_manifests(checkout)
    deployment = checkout.manifests[0]
    assert deployment["metadata"]["labels"]["app.kubernetes.io/part-of"] == "payments-platform"
    assert deployment["spec"]["replicas"] == 4
    assert [manifest["kind"] for manifest in checkout.manifests][-1] == "HorizontalPodAutoscaler"


@pytest.mark.django_db
def test_a_service_imported_before_imports_made_environments_gets_them_on_the_next_import(
    platform_admin, payments
):
    ServiceFactory(name="checkout", owner=payments)
    assert not Environment.objects.exists()

    catalog_import(actor=platform_admin, sources=[("a.yaml", stream(component("checkout")))])
    catalog_import(actor=platform_admin, sources=[("a.yaml", stream(component("checkout")))])

    checkout = Service.objects.get()
    assert [env.name for env in checkout.environments.all()] == ["dev", "staging", "prod"]
    assert checkout.manifests == render_manifests(checkout)


@pytest.mark.django_db
def test_a_service_whose_manifests_would_be_invalid_is_reported_and_not_written(
    platform_admin, payments, monkeypatch
):
    from apps.catalog.backstage import writer

    def checked(service):
        if service.name == "bad":
            return [], ["Deployment spec.replicas: 'three' is not of type 'integer', 'null'"]
        return render_manifests(service), []

    monkeypatch.setattr(writer, "checked_manifests", checked)
    text = stream(component("first"), component("bad"))

    report = catalog_import(actor=platform_admin, sources=[("a.yaml", text)])

    assert [(e.document, e.field) for e in report.errors] == [(2, "")]
    assert report.errors[0].message == (
        "Its Kubernetes manifests would be invalid: "
        "Deployment spec.replicas: 'three' is not of type 'integer', 'null'"
    )
    assert list(Service.objects.values_list("name", flat=True)) == ["first"]
    assert Environment.objects.filter(service__name="bad").count() == 0


# --- Audit and scale ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_import_writes_exactly_one_audit_event(platform_admin):
    before = AuditEvent.objects.count()
    report = catalog_import(actor=platform_admin, sources=all_samples())

    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action="catalog.import")
    assert (event.action, event.actor, event.target_type) == (
        "catalog.import",
        platform_admin,
        "catalog.import",
    )
    assert event.target_id == report.import_id and len(report.import_id) == 12
    assert event.after["counts"]["Component"] == {"created": 2, "updated": 0}
    assert sorted(event.after["created"]["Component"]) == [
        "backstage-existing",
        "one-platform-api-catalog-service",
    ]
    assert event.after["warnings"] == len(report.warnings) and event.after["errors"] == 0


def generated_catalog(count: int, depends_on: int = 3) -> str:
    documents = [
        component(
            f"svc-{i:04d}",
            dependsOn=[
                f"component:default/svc-{(i + k) % count:04d}" for k in range(1, 1 + depends_on)
            ],
        )
        | {"metadata": {"name": f"svc-{i:04d}", "tags": ["generated", f"group-{i % 7}"]}}
        for i in range(count)
    ]
    return stream(*documents)


@pytest.mark.django_db
def test_importing_300_components_with_900_dependencies_takes_a_bounded_number_of_queries(
    platform_admin, payments, django_assert_max_num_queries
):
    text = generated_catalog(300)
    with django_assert_max_num_queries(25):
        report = catalog_import(actor=platform_admin, sources=[("generated.yaml", text)])
    assert report.errors == [] and report.warnings == []
    assert Service.objects.count() == 300
    assert Dependency.objects.count() == 900 == report.relations["dependsOn"]
    assert Service.tags.through.objects.count() == 600
    assert Environment.objects.count() == 900
    assert not Service.objects.filter(manifests=[]).exists()


@pytest.mark.django_db
def test_the_number_of_queries_does_not_grow_with_the_catalog(platform_admin, payments):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    permissions.is_platform_admin(platform_admin)  # the role lookup is cached on the user
    counted = []
    for size in (10, 200):
        with CaptureQueriesContext(connection) as queries:
            catalog_import(actor=platform_admin, sources=[("g.yaml", generated_catalog(size))])
        counted.append(len(queries))
        Service.objects.all().delete()
    assert counted[0] == counted[1]

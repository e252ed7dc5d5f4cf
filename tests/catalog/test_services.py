import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.catalog import services
from apps.catalog.models import Cluster, Dependency, GoldenPathTemplate, Service
from tests.factories import ServiceFactory


def create(actor, owner, **fields):
    return services.service_create(actor=actor, owner=owner, **{"name": "checkout-api", **fields})


@pytest.mark.django_db
def test_a_developer_creates_a_service_with_environments_manifests_and_an_audit_row(
    developer, payments
):
    service = create(developer, payments, title="Checkout API", tags=["Python", " payments "])
    assert [env.name for env in service.environments.order_by("order")] == [
        "dev",
        "staging",
        "prod",
    ]
    assert service.environments.get(name="prod").namespace == "payments-prod"
    assert [m["kind"] for m in service.manifests] == ["Deployment", "Service"]
    assert sorted(service.tags.values_list("name", flat=True)) == ["payments", "python"]
    event = AuditEvent.objects.get(action="service.create")
    assert event.actor == developer
    assert event.after["owner"] == "payments"
    assert event.after["tags"] == ["payments", "python"]


@pytest.mark.django_db
def test_hpa_and_pdb_manifests_appear_when_asked_for(developer, payments):
    service = create(developer, payments, replicas=3, autoscale_max=6, pdb_min_available=2)
    kinds = [m["kind"] for m in service.manifests]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    hpa = service.manifests[2]
    assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] == 6


@pytest.mark.django_db
@pytest.mark.parametrize("bad_name", ["Checkout", "checkout_api", "-checkout", "a" * 64, ""])
def test_an_invalid_name_is_refused_naming_the_field(developer, payments, bad_name):
    with pytest.raises(ValidationError) as error:
        create(developer, payments, name=bad_name)
    assert "name" in error.value.message_dict
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_a_duplicate_name_is_refused_and_nothing_else_is_saved(developer, payments):
    create(developer, payments)
    with pytest.raises(ValidationError) as error:
        create(developer, payments, title="Second")
    assert "already exists" in str(error.value.message_dict["name"])
    assert Service.objects.count() == 1
    assert AuditEvent.objects.filter(action="service.create").count() == 1


@pytest.mark.django_db
def test_a_team_the_developer_is_not_in_is_refused_on_the_owner_field(developer, search):
    with pytest.raises(ValidationError) as error:
        create(developer, search)
    assert "not a member of team search" in error.value.message_dict["owner"][0]
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_leadership_cannot_create_services(leadership, payments):
    with pytest.raises(PermissionDenied):
        create(leadership, payments)


@pytest.mark.django_db
def test_a_malformed_url_names_its_field(developer, payments):
    with pytest.raises(ValidationError) as error:
        create(
            developer, payments, repository_url="not a url", links=[{"title": "x", "url": "ftp:/"}]
        )
    assert {"repository_url", "links"} <= set(error.value.message_dict)
    assert not Service.objects.exists()


@pytest.mark.django_db
def test_bad_strategy_parameters_are_refused_naming_the_field(developer, payments):
    with pytest.raises(ValidationError) as error:
        create(
            developer, payments, strategy="canary", strategy_params={"steps": [{"set_weight": 50}]}
        )
    assert "last weight must be 100" in error.value.message_dict["strategy_params"][0]


@pytest.mark.django_db
def test_an_autoscaling_maximum_below_the_replicas_is_refused(developer, payments):
    with pytest.raises(ValidationError) as error:
        create(developer, payments, replicas=4, autoscale_max=2)
    assert "autoscale_max" in error.value.message_dict


@pytest.mark.django_db
def test_a_template_brings_its_defaults_unless_overridden(developer, payments):
    template = GoldenPathTemplate.objects.create(
        name="python-web",
        version=3,
        title="Python",
        container_port=8000,
        strategy="canary",
        language="python",
    )
    service = create(developer, payments, template=template, container_port=9000)
    assert service.container_port == 9000
    assert service.strategy == "canary" and service.language == "python"
    assert service.strategy_params["steps"][-1] == {"set_weight": 100}


@pytest.mark.django_db
def test_update_records_only_what_changed(developer, payments):
    service = create(developer, payments, title="Old")
    services.service_update(actor=developer, service=service, title="New", tags=["x"])
    event = AuditEvent.objects.get(action="service.update")
    assert event.before == {"tags": [], "title": "Old"}
    assert event.after == {"tags": ["x"], "title": "New"}


@pytest.mark.django_db
def test_an_update_with_its_dependencies_is_one_audit_row(developer, payments):
    service = create(developer, payments, title="Old")
    ledger = ServiceFactory(name="ledger")
    services.service_update(actor=developer, service=service, title="New", depends_on=[ledger])
    event = AuditEvent.objects.get(action="service.update")
    assert event.before == {"depends_on": [], "title": "Old"}
    assert event.after == {"depends_on": ["service:ledger"], "title": "New"}
    assert not AuditEvent.objects.filter(action="service.dependencies").exists()


@pytest.mark.django_db
def test_an_update_depending_on_itself_changes_nothing(developer, payments):
    service = create(developer, payments, title="Old")
    with pytest.raises(ValidationError) as error:
        services.service_update(
            actor=developer, service=service, title="New", tags=["x"], depends_on=[service]
        )
    assert error.value.message_dict == {"depends_on": ["A service cannot depend on itself."]}
    service.refresh_from_db()
    assert service.title == "Old" and not service.tags.exists()
    assert not Dependency.objects.exists()
    assert not AuditEvent.objects.filter(action="service.update").exists()


@pytest.mark.django_db
def test_another_teams_developer_cannot_update(developer, other_developer, payments):
    service = create(developer, payments, title="Mine")
    with pytest.raises(PermissionDenied):
        services.service_update(actor=other_developer, service=service, title="Theirs")
    service.refresh_from_db()
    assert service.title == "Mine"


@pytest.mark.django_db
def test_moving_a_service_to_a_team_you_are_not_in_is_refused(developer, payments, search):
    service = create(developer, payments)
    with pytest.raises(ValidationError) as error:
        services.service_update(actor=developer, service=service, owner=search)
    assert "owner" in error.value.message_dict


@pytest.mark.django_db
def test_only_platform_admins_delete(developer, platform_admin, payments):
    service = create(developer, payments)
    with pytest.raises(PermissionDenied):
        services.service_delete(actor=developer, service=service)
    services.service_delete(actor=platform_admin, service=service)
    assert not Service.objects.exists()
    assert AuditEvent.objects.get(action="service.delete").before["name"] == "checkout-api"


@pytest.mark.django_db
def test_dependencies_are_replaced_and_audited_by_name(developer, payments):
    service = create(developer, payments)
    ledger, fraud = ServiceFactory(name="ledger"), ServiceFactory(name="fraud")
    services.service_dependencies_set(actor=developer, service=service, services=[ledger, fraud])
    services.service_dependencies_set(actor=developer, service=service, services=[ledger])
    assert list(Dependency.objects.values_list("target_service__name", flat=True)) == ["ledger"]
    last = AuditEvent.objects.filter(action="service.dependencies").latest("id")
    assert last.before == {"depends_on": ["service:fraud", "service:ledger"]}
    assert last.after == {"depends_on": ["service:ledger"]}


@pytest.mark.django_db
def test_a_service_cannot_depend_on_itself(developer, payments):
    service = create(developer, payments)
    with pytest.raises(ValidationError):
        services.service_dependencies_set(actor=developer, service=service, services=[service])


@pytest.mark.django_db
def test_a_new_template_version_follows_the_latest(platform_admin):
    first = services.template_create(actor=platform_admin, name="go-grpc", title="Go")
    second = services.template_create(actor=platform_admin, name="go-grpc", title="Go")
    assert (first.version, second.version) == (1, 2)


@pytest.mark.django_db
def test_preview_shows_what_create_would_make_and_keeps_nothing(developer, payments):
    preview = services.service_preview(
        actor=developer, owner=payments, name="preview-me", autoscale_max=4
    )
    assert "kind: HorizontalPodAutoscaler" in preview["manifests_yaml"]
    assert "name: preview-me" in preview["catalog_info_yaml"]
    assert [env["name"] for env in preview["environments"]] == ["dev", "staging", "prod"]
    assert not Service.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_the_manifests_text_is_what_pyyaml_writes_whichever_emitter(developer, payments):
    import yaml

    from apps.catalog.manifests import manifests_yaml, render_manifests

    service = create(developer, payments, name="emitted", autoscale_max=4, description="a: b # c")
    manifests = render_manifests(service)
    assert manifests_yaml(manifests) == yaml.safe_dump_all(manifests, sort_keys=False)


# --- Clusters ---------------------------------------------------------------------------------


def answers(version: str):
    def check_connection(*, kubeconfig, context, in_cluster) -> str:
        return version

    return check_connection


def has_no_context(*, kubeconfig, context, in_cluster) -> str:
    raise LookupError(f"The kubeconfig has no context {context}.")


@pytest.mark.django_db
def test_a_cluster_is_registered_with_the_version_its_check_reads_and_audited(platform_admin):
    cluster = services.cluster_create(
        actor=platform_admin,
        name="eu-1",
        kubeconfig_path="/etc/runway/eu-1.yaml",
        check_connection=answers("v1.31.0"),
    )
    assert cluster.server_version == "v1.31.0"
    event = AuditEvent.objects.get(action="cluster.create")
    assert event.actor == platform_admin and event.after["server_version"] == "v1.31.0"


@pytest.mark.django_db
def test_a_cluster_its_check_cannot_use_is_refused_naming_the_field(platform_admin):
    with pytest.raises(ValidationError) as refused:
        services.cluster_create(
            actor=platform_admin,
            name="eu-1",
            kubeconfig_path="/etc/runway/eu-1.yaml",
            context="prod-admin",
            check_connection=has_no_context,
        )
    assert "context" in refused.value.message_dict
    assert not Cluster.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_only_platform_admins_register_clusters(developer):
    with pytest.raises(PermissionDenied):
        services.cluster_create(actor=developer, name="eu-1", check_connection=answers("v1"))

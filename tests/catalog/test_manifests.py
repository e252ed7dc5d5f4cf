import pytest

from apps.catalog.manifests import manifest_errors, render_manifests
from apps.catalog.models import Service
from tests.factories import TeamFactory


def unsaved_service(**fields) -> Service:
    return Service(name="web", owner=TeamFactory.build(slug="payments"), **fields)


def test_generated_manifests_pass_the_kubernetes_schemas():
    manifests = render_manifests(unsaved_service(autoscale_max=5, pdb_min_available=1))
    assert manifest_errors(manifests) == []


def test_the_deployment_carries_the_runtime_settings():
    deployment = render_manifests(
        unsaved_service(
            image="registry/web:1.2",
            container_port=9000,
            cpu="500m",
            memory="1Gi",
            health_path="/ready",
            replicas=3,
        )
    )[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert deployment["spec"]["replicas"] == 3
    assert container["image"] == "registry/web:1.2"
    assert container["ports"] == [{"name": "http", "containerPort": 9000}]
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_a_manifest_the_schema_rejects_is_reported_with_its_path():
    deployment = render_manifests(unsaved_service())[0]
    deployment["spec"]["replicas"] = "three"
    errors = manifest_errors([deployment])
    assert len(errors) == 1
    assert errors[0].startswith("Deployment spec.replicas")


@pytest.mark.parametrize(
    ("strategy", "params", "message"),
    [
        ("canary", {"steps": [{"set_weight": 120}]}, "set_weight must be 1 to 100"),
        ("canary", {"steps": [{"set_weight": 50}, {"set_weight": 20}]}, "weights only go up"),
        ("canary", {"steps": [{"jump": 1}]}, "unknown step"),
        ("rolling", {"max_surge": "0", "max_unavailable": "0%"}, "cannot both be zero"),
        ("rolling", {"max_surge": "lots"}, "count (1) or a percentage"),
        ("blue-green", {"auto_promotion": "yes"}, "true or false"),
        ("blue-green", {"colour": "teal"}, "Unknown parameter"),
    ],
)
def test_strategy_parameters_are_checked(strategy, params, message):
    from django.core.exceptions import ValidationError

    from apps.catalog.delivery import clean_strategy_params

    with pytest.raises(ValidationError) as error:
        clean_strategy_params(strategy, params)
    assert message in error.value.message_dict["strategy_params"][0]


def test_canary_pauses_keep_their_meaning():
    from apps.catalog.delivery import clean_strategy_params

    params = clean_strategy_params(
        "canary",
        {
            "steps": [
                {"set_weight": 10},
                {"pause": {}},
                {"pause": {"seconds": 30}},
                {"analysis": {"template": "smoke"}},
                {"set_weight": 100},
            ]
        },
    )
    assert params["steps"][1] == {"pause": {}}
    assert params["steps"][2] == {"pause": {"seconds": 30}}


def test_services_that_differ_only_in_their_names_are_checked_against_the_schemas_once(
    monkeypatch,
):
    from apps.catalog import manifests

    checked = []
    monkeypatch.setattr(manifests, "manifest_errors", lambda found: checked.append(found) or [])
    manifests._layout_is_valid.cache_clear()
    for name, team in (("web", "payments"), ("api", "search"), ("worker", "search")):
        service = Service(name=name, owner=TeamFactory.build(slug=team), cpu="750m")
        rendered, errors = manifests.checked_manifests(service)
        assert (rendered, errors) == (render_manifests(service), [])
    assert len(checked) == 1

    manifests.checked_manifests(unsaved_service(cpu="1"))
    assert len(checked) == 2  # another layout, checked in its turn


def test_a_service_whose_manifests_the_schema_rejects_is_told_so_in_its_own_terms():
    from apps.catalog.manifests import _layout_is_valid, checked_manifests

    _layout_is_valid.cache_clear()
    service = unsaved_service(replicas="three", image="registry/web:1.2")

    rendered, errors = checked_manifests(service)

    assert rendered[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry/web:1.2"
    assert errors == ["Deployment spec.replicas: 'three' is not of type 'integer', 'null'"]

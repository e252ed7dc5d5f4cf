"""The simulator's pure parts: patches, selectors, rollout arithmetic and the store."""

import pytest

from simulator import deployments, label_selectors, patches
from simulator.errors import ApiError
from simulator.resources import DEPLOYMENTS, NAMESPACES, SERVICES
from simulator.store import Store

POD = {
    "metadata": {"labels": {"app": "web"}, "finalizers": ["a"]},
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "web:1",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            },
            {"name": "proxy", "image": "proxy:1"},
        ],
        "tolerations": [{"key": "x"}],
    },
}


def smp(original, patch):
    return patches.strategic_merge_patch(original, patch, ())


def test_a_strategic_merge_patch_merges_named_lists_by_their_key():
    patch = {
        "spec": {
            "containers": [
                {"name": "app", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]},
                {"name": "new", "image": "new:1"},
            ]
        }
    }

    merged = smp(POD, patch)

    app, proxy, new = merged["spec"]["containers"]
    assert app["image"] == "web:1"
    assert app["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    assert proxy == {"name": "proxy", "image": "proxy:1"}
    assert new == {"name": "new", "image": "new:1"}
    assert POD["spec"]["containers"][0]["env"][1]["value"] == "2"  # the original is untouched


def test_a_strategic_merge_patch_honours_its_directives():
    patch = {
        "metadata": {"labels": {"$patch": "replace", "tier": "front"}, "finalizers": ["b"]},
        "spec": {
            "containers": [{"name": "proxy", "$patch": "delete"}],
            "tolerations": [{"key": "y"}],
            "$deleteFromPrimitiveList/none": [],
        },
    }

    merged = smp(POD, patch)

    assert merged["metadata"]["labels"] == {"tier": "front"}
    assert merged["metadata"]["finalizers"] == ["a", "b"]
    assert [c["name"] for c in merged["spec"]["containers"]] == ["app"]
    assert merged["spec"]["tolerations"] == [{"key": "y"}]  # no merge key: replaced


def test_a_strategic_merge_patch_deletes_with_null_and_retains_keys():
    merged = smp({"a": 1, "b": {"c": 1, "d": 2}}, {"a": None, "b": {"$retainKeys": ["d"], "d": 3}})

    assert merged == {"b": {"d": 3}}


def test_ports_merge_by_container_port_in_containers_and_by_port_in_services():
    service = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}

    merged_service = smp(service, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    merged_pod = smp(
        POD,
        {
            "spec": {
                "containers": [{"name": "app", "ports": [{"containerPort": 8080, "name": "http"}]}]
            }
        },
    )

    assert merged_service["spec"]["ports"] == [{"port": 80, "targetPort": 9090}]
    assert merged_pod["spec"]["containers"][0]["ports"] == [
        {"containerPort": 8080, "protocol": "TCP", "name": "http"}
    ]


def test_a_strategic_merge_patch_needs_the_merge_key_in_list_items():
    with pytest.raises(ApiError) as exc:
        smp(POD, {"spec": {"containers": [{"image": "x"}]}})

    assert exc.value.code == 422


def test_a_merge_patch_deletes_nulls_and_replaces_lists():
    merged = patches.merge_patch(POD, {"metadata": {"labels": None}, "spec": {"containers": []}})

    assert merged == {
        "metadata": {"finalizers": ["a"]},
        "spec": {"containers": [], "tolerations": [{"key": "x"}]},
    }


def test_a_json_patch_runs_its_operations_in_order():
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    operations = [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "add", "path": "/a/b/0", "value": 0},
        {"op": "remove", "path": "/a/b/1"},
        {"op": "replace", "path": "/c", "value": "y"},
        {"op": "copy", "from": "/c", "path": "/d"},
        {"op": "move", "from": "/d", "path": "/e~1f"},
        {"op": "test", "path": "/e~1f", "value": "y"},
    ]

    assert patches.json_patch(doc, operations) == {"a": {"b": [0, 2, 3]}, "c": "y", "e/f": "y"}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}


@pytest.mark.parametrize(
    ("operations", "code"),
    [
        ([{"op": "replace", "path": "/missing", "value": 1}], 422),
        ([{"op": "remove", "path": "/a/b/9"}], 422),
        ([{"op": "test", "path": "/c", "value": "z"}], 422),
        ([{"op": "add", "path": "/nope/deeper", "value": 1}], 422),
        ([{"op": "frobnicate", "path": "/c"}], 400),
        ([{"path": "/c"}], 400),
    ],
)
def test_a_json_patch_that_cannot_apply_is_refused(operations, code):
    with pytest.raises(ApiError) as exc:
        patches.json_patch({"a": {"b": [1]}, "c": "x"}, operations)

    assert exc.value.code == code


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        (patches.JSON_PATCH, b'{"op": "add"}', 400),
        (patches.MERGE_PATCH, b"[1]", 400),
        (patches.STRATEGIC_MERGE_PATCH, b"{not json", 400),
        ("application/apply-patch+yaml", b"{}", 415),
    ],
)
def test_a_patch_of_the_wrong_shape_or_type_is_refused(content_type, body, code):
    with pytest.raises(ApiError) as exc:
        patches.apply(content_type, {"a": 1}, body)

    assert exc.value.code == code


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier=front", {"app": "web"}, False),
        ("app!=web", {}, True),
        ("app in (web, api),tier notin (back)", {"app": "api", "tier": "front"}, True),
        ("app in (web)", {}, False),
        ("tier", {"tier": ""}, True),
        ("!tier", {"tier": "x"}, False),
        ("", {"anything": "x"}, True),
    ],
)
def test_label_selectors_parse_equality_and_set_based_terms(text, labels, expected):
    assert (
        label_selectors.matches_all(label_selectors.parse_label_selector(text), labels) is expected
    )


def test_an_unparsable_label_selector_is_400():
    with pytest.raises(ApiError) as exc:
        label_selectors.parse_label_selector("app in web")

    assert exc.value.code == 400


def test_a_label_selector_object_prints_like_kubectl():
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
    }

    assert label_selectors.selector_string(selector) == "app=web,tier in (a,b)"


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable down
        (0, 0, 3, (0, 1)),  # a rollout must be able to move
        ("0%", "10%", 3, (0, 1)),
        (2, 5, 3, (2, 5)),
    ],
)
def test_max_surge_rounds_up_and_max_unavailable_rounds_down(
    surge, unavailable, replicas, expected
):
    d = {
        "spec": {
            "replicas": replicas,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
        }
    }

    assert deployments.resolve_fenceposts(d) == expected
    assert deployments.max_unavailable(d) == min(expected[1], replicas)


def test_a_recreate_deployment_has_no_fenceposts_and_resolving_them_says_so():
    d = {"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}}

    with pytest.raises(ValueError, match="a Recreate Deployment has no fenceposts"):
        deployments.resolve_fenceposts(d)
    assert deployments.max_surge(d) == 0
    assert deployments.max_unavailable(d) == 0


def test_a_template_hash_is_stable_and_short():
    template = POD

    first = deployments.template_hash(template, None)

    assert first == deployments.template_hash(dict(template), None)
    assert first != deployments.template_hash(template, 1)
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert 1 <= len(first) <= 10


def test_the_store_checks_resource_versions_and_counts_generations():
    store = Store(clock=lambda: 1_800_000_000.0)
    created = store.create(
        DEPLOYMENTS, {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 1}}
    )
    stale = dict(created)

    relabelled = store.update(
        DEPLOYMENTS, {**created, "metadata": {**created["metadata"], "labels": {"a": "b"}}}
    )
    respecced = store.update(DEPLOYMENTS, {**relabelled, "spec": {"replicas": 2}})
    with pytest.raises(ApiError) as exc:
        store.update(DEPLOYMENTS, stale)

    assert created["metadata"]["creationTimestamp"] == "2027-01-15T08:00:00Z"
    assert (relabelled["metadata"]["generation"], respecced["metadata"]["generation"]) == (1, 2)
    assert int(created["metadata"]["resourceVersion"]) < int(
        relabelled["metadata"]["resourceVersion"]
    )
    assert exc.value.code == 409
    assert store.find(SERVICES, "ns", "web") is None
    assert store.get(DEPLOYMENTS, "ns", "web")["spec"] == {"replicas": 2}
    assert {ns["metadata"]["name"] for ns in store.list(NAMESPACES)[0]} >= {"default", "ns"}

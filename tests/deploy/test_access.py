"""What Runway's pods may do in the cluster and on the network."""

import re

from tests.deploy.conftest import ROOT, pod_spec

# kubernetes client method -> RBAC verb
VERBS = {"read": "get", "list": "list", "create": "create", "patch": "patch", "delete": "delete"}
RESOURCES = {
    "deployment": ("apps", "deployments"),
    "deployment_scale": ("apps", "deployments/scale"),
    "pod": ("", "pods"),
    "service": ("", "services"),
}


def executor_calls() -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of every namespaced call apps/rollouts/kube.py makes."""
    source = (ROOT / "apps" / "rollouts" / "kube.py").read_text()
    calls = set()
    for verb, resource in re.findall(r"self\.(?:apps|core)\.(\w+?)_namespaced_(\w+)\b", source):
        group, plural = RESOURCES[resource]
        calls.add((group, plural, VERBS[verb]))
    return calls


def role_grants(role: dict) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_rollout_role_grants_exactly_what_the_executor_calls(rendered):
    calls = executor_calls()
    assert ("apps", "deployments", "patch") in calls  # the parse found the executor's calls
    assert role_grants(rendered.get("Role", "runway-rollouts")) == calls


def test_the_role_is_bound_to_the_service_account_runway_runs_as(rendered):
    binding = rendered.get("RoleBinding", "runway-rollouts")
    assert binding["roleRef"]["name"] == "runway-rollouts"
    account = rendered.get("ServiceAccount", "runway")
    subject = binding["subjects"][0]
    assert (subject["name"], subject["namespace"]) == (
        account["metadata"]["name"],
        account["metadata"]["namespace"],
    )
    for deployment in rendered.of_kind("Deployment"):
        assert pod_spec(deployment)["serviceAccountName"] == "runway"


def test_processes_that_never_call_kubernetes_get_no_token(rendered):
    for name in ("Deployment/runway-beat", "Job/runway-migrate"):
        kind, name = name.split("/")
        assert pod_spec(rendered.get(kind, name))["automountServiceAccountToken"] is False


def _selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _policies(rendered, labels: dict, kind: str) -> list[dict]:
    return [
        p
        for p in rendered.of_kind("NetworkPolicy")
        if kind in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], labels)
    ]


def _egress_ports(rendered, labels: dict) -> set[tuple[str, int]]:
    ports = set()
    for policy in _policies(rendered, labels, "Egress"):
        for rule in policy["spec"]["egress"]:
            if "to" in rule:
                continue  # a narrowed rule; the core ports must not depend on one
            ports |= {(p["protocol"], p["port"]) for p in rule["ports"]}
    return ports


def test_only_web_and_workers_take_connections_and_only_on_their_ports(rendered):
    for workload in rendered.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        policies = _policies(rendered, labels, "Ingress")
        assert policies, f"{workload['metadata']['name']} has no ingress policy"
        rules = [rule for p in policies for rule in p["spec"].get("ingress", [])]
        component = labels["app.kubernetes.io/component"]
        if component == "web":
            assert rules == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
        elif component == "worker":
            assert rules == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]
        else:
            assert rules == [], workload["metadata"]["name"]


def test_every_process_reaches_dns_the_database_the_broker_and_the_kubernetes_api(rendered):
    needed = {
        ("UDP", 53),
        ("TCP", 53),
        ("TCP", 5432),
        ("TCP", 6379),
        ("TCP", 443),
        ("TCP", 6443),
    }
    for workload in rendered.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert needed <= _egress_ports(rendered, labels), workload["metadata"]["name"]


def test_only_the_workers_that_send_notifications_reach_mail_servers(rendered):
    for workload in rendered.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        sends_mail = ("TCP", 587) in _egress_ports(rendered, labels)
        assert sends_mail == (labels.get("runway/queue") == "notifications")


def test_only_the_rollout_workers_reach_the_analyses_targets_in_the_cluster(rendered):
    for workload in rendered.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        anywhere_inside = any(
            rule.get("to") == [{"namespaceSelector": {}}]
            for policy in _policies(rendered, labels, "Egress")
            for rule in policy["spec"]["egress"]
        )
        assert anywhere_inside == (labels.get("runway/queue") == "rollouts")

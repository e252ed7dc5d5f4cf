"""Defaulting, as the API server applies it before validation and storage.

Readers see the defaulted object, so a client comparing what it sent with what it reads back
meets the same surprises as on a real cluster (imagePullPolicy, protocol, strategy, ...).
"""

from simulator.store import Store


def image_tag(image: str) -> str:
    """The tag of an image reference; `latest` when none is given."""
    if "@" in image:
        return ""
    name = image.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[1] if ":" in name else "latest"


def pod_spec(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if not isinstance(container, dict):
            continue
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        image = container.get("image") or ""
        if image:
            pull = "Always" if image_tag(image) == "latest" else "IfNotPresent"
            container.setdefault("imagePullPolicy", pull)
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def deployment(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy["rollingUpdate"] = strategy.get("rollingUpdate") or {}
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        if isinstance(template.get("spec"), dict):
            pod_spec(template["spec"])


def service(obj: dict, store: Store, current: dict | None) -> None:
    """Service defaults; on update, the allocated cluster IP and node ports are kept when the
    new object leaves them out (the API server's patchAllocatedValues)."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    old_spec = (current or {}).get("spec") or {}
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"], spec["clusterIPs"] = old_spec["clusterIP"], old_spec["clusterIPs"]
        if not spec.get("clusterIP"):
            address = store.allocate_cluster_ip()
            spec["clusterIP"], spec["clusterIPs"] = address, [address]
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    old_ports = {port.get("port"): port for port in old_spec.get("ports") or []}
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
        if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            old = old_ports.get(port.get("port"), {}).get("nodePort")
            port["nodePort"] = old or store.allocate_node_port()
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")

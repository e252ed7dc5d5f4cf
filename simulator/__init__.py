"""Runway's cluster simulator: a Kubernetes API server and controller loop for development and CI.

No Kubernetes control plane can run on the development and CI machines, so the executor talks
to this instead, through the official `kubernetes` client and a kubeconfig, exactly as it would
talk to a real cluster. It imports nothing from Django.

Running it
    python -m simulator --host 127.0.0.1 --port 8701 \\
        [--ready-delay 1.0] [--tick 0.2] [--kubeconfig-out var/kubeconfig-simulator.yaml]
        [--request-log PATH]

    The kubeconfig has one context, `runway-sim` (cluster `http://host:port`, a dummy token,
    namespace `default`); kubectl and `kubernetes.config.load_kube_config` both read it. In tests,
    `start_simulator()` serves on a free port from background threads and returns `(url, stop)`;
    `write_kubeconfig(path, url)` writes the kubeconfig.

The API (JSON only; every path also answers HEAD like GET)
    GET  /version  /api  /apis  /apis/apps  /api/v1  /apis/apps/v1  /healthz  /livez  /readyz
    GET  /openapi/v2 (empty)  /openapi/v3  /openapi/v3/api/v1  /openapi/v3/apis/apps/v1
         (just enough for kubectl apply and create, old and new kubectl alike)

    apps/v1 Deployments   /apis/apps/v1/namespaces/{ns}/deployments[/{name}]
        list (also /apis/apps/v1/deployments), watch, get, create, replace (PUT), patch, delete;
        {name}/status: get, replace, patch; {name}/scale (autoscaling/v1 Scale): get, replace,
        patch.
    apps/v1 ReplicaSets   /apis/apps/v1/namespaces/{ns}/replicasets[/{name}]
        list, watch, get, delete; {name}/status.
    v1 Services           /api/v1/namespaces/{ns}/services[/{name}]
        list, watch, get, create, replace, patch, delete; {name}/status.
    v1 Pods               /api/v1/namespaces/{ns}/pods[/{name}]
        list, watch, get, delete; {name}/status.
    v1 Namespaces         /api/v1/namespaces[/{name}]
        list, watch, get, create, delete. Namespaces are also created on first use.

    PATCH takes application/strategic-merge-patch+json (what the Python client sends for a
    dict), application/merge-patch+json and application/json-patch+json (sent for a list);
    anything else gets 415. Lists take `labelSelector` (=, ==, !=, in, notin, exists, !key) and
    `fieldSelector` (metadata.name, metadata.namespace, status.phase, spec.nodeName; others are
    ignored); `limit` is ignored and everything comes in one page. `?watch=true` streams events
    from `resourceVersion` (410 Expired when too old), honouring `timeoutSeconds`;
    `dryRun=All` validates without saving. `kubectl get` receives server-side Tables.

    Like the API server: creates answer 201; errors are `kind: Status` bodies with reason
    NotFound (404), AlreadyExists (409), Conflict (409, a stale metadata.resourceVersion on
    replace or in a patch), Invalid (422, with details.causes naming each field), BadRequest
    (400) and MethodNotAllowed (405). metadata.resourceVersion rises with every write and a
    write that changes nothing keeps it; metadata.generation rises on spec changes only;
    uid, creationTimestamp and defaults (strategy 25%/25%, revisionHistoryLimit 10,
    progressDeadlineSeconds 600, imagePullPolicy, protocol TCP, clusterIP, ...) are filled in.
    Zero counts in Deployment and ReplicaSet status are omitted, as Go's omitempty does, so the
    Python client reads them as None. Deleting a Deployment returns a Status and its
    ReplicaSets and pods go on the next controller ticks (propagationPolicy=Orphan keeps them).

The controllers (one thread, every --tick seconds)
    The Deployment controller follows kube-controller-manager: a ReplicaSet per pod template
    (`<deployment>-<hash>`, label pod-template-hash, annotation deployment.kubernetes.io/revision;
    an earlier template's ReplicaSet is reused under a new revision, like
    `kubectl rollout undo`), RollingUpdate with maxSurge / maxUnavailable as ints or
    percentages, Recreate, proportional scaling, spec.paused, revisionHistoryLimit, and the
    status: observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
    unavailableReplicas, conditions Available and Progressing (NewReplicaSetCreated,
    ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded after
    spec.progressDeadlineSeconds without progress, DeploymentPaused / DeploymentResumed).
    Pods are Pending, Running after half the ready delay, Ready after --ready-delay seconds,
    and are deleted at once (no graceful termination).

    An image whose tag contains `imagepull` stays Pending (ErrImagePull / ImagePullBackOff),
    `crashloop` waits in CrashLoopBackOff with a rising restartCount, `unready` runs but is
    never ready, and `unschedulable` stays Pending, bound to no node, with PodScheduled False
    (reason Unschedulable, "0/1 nodes are available: 1 Insufficient cpu. ...") and no
    container statuses. None of them ever becomes ready. `slowstart` runs but becomes ready
    only after 10 times the ready delay, so a progress deadline can be met or missed.

Metrics: GET or POST /prometheus/api/v1/query?query=...
    Answers like the Prometheus HTTP API: {"status": "success", "data": {"resultType":
    "vector", "result": [{"metric": {...}, "value": [time, "0.995"]}]}}. A query is a metric
    name with optional matchers (=, !=, =~, !~), e.g.
    `runway_request_success_rate{namespace="shop",deployment="web"}`. No other PromQL.

    One series per Deployment, labels namespace and deployment:
        runway_request_success_rate    0.995 per ready pod, 0.5 for a pod whose image tag
                                       contains `errors`, averaged over ready pods; 0 if none
        runway_request_error_rate      1 - the success rate
        runway_requests_per_second     10 per ready pod
        runway_ready_pods              ready pods
    One series per Service with a selector, labels namespace and service, measured over the pods
    the Service selects (so a canary behind the Service counts):
        runway_service_request_success_rate, runway_service_request_error_rate,
        runway_service_requests_per_second, runway_service_ready_pods
    An unknown metric name answers an empty vector, as Prometheus does.

HTTP check: GET /probe/{namespace}/{service}
    200 when the Service selects at least one pod and every selected pod is ready, 503
    otherwise, 404 for an unknown Service; the JSON body gives the counts.
"""

from simulator.kubeconfig import write_kubeconfig
from simulator.server import RunningSimulator, Simulator, start_simulator

__all__ = ["RunningSimulator", "Simulator", "start_simulator", "write_kubeconfig"]

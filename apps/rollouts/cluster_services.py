"""Registering and changing the Kubernetes clusters environments deploy to: platform admins
only, validated in full (Runway must reach the cluster's API server before it is saved),
audited."""

from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts import permissions
from apps.audit.services import audit_record, snapshot
from apps.catalog.models import Cluster
from apps.rollouts import kube

CLUSTER_FIELDS = ("name", "description", "kubeconfig_path", "context", "in_cluster")
CONNECTION_FIELDS = ("kubeconfig_path", "context", "in_cluster")
AUDITED_FIELDS = (*CLUSTER_FIELDS, "server_version")


def _require_platform_admin(actor) -> None:
    permissions.require(
        permissions.is_platform_admin(actor), "Only platform admins register and change clusters."
    )


def _validate(cluster: Cluster) -> None:
    cluster.full_clean()
    if cluster.in_cluster and cluster.kubeconfig_path:
        raise ValidationError(
            {
                "in_cluster": "A cluster is reached from inside it or through a kubeconfig, "
                "not both: leave kubeconfig_path empty."
            }
        )
    if cluster.kubeconfig_path and not PurePosixPath(cluster.kubeconfig_path).is_absolute():
        raise ValidationError(
            {"kubeconfig_path": "Give the kubeconfig's absolute path on Runway's servers."}
        )


def _check_connection(cluster: Cluster) -> None:
    """Ask the API server for its version the way the executor will reach it, so that a cluster
    Runway cannot use is refused now, naming the field to fix, instead of failing rollouts."""
    try:
        cluster.server_version = kube.check_connection(
            kubeconfig=cluster.kubeconfig_path,
            context=cluster.context,
            in_cluster=cluster.in_cluster,
        )
    except LookupError as exc:
        raise ValidationError({"context": str(exc)}) from exc
    except (ValueError, kube.KubeUnavailable) as exc:
        field = "in_cluster" if cluster.in_cluster else "kubeconfig_path"
        raise ValidationError({field: str(exc)}) from exc


@transaction.atomic
def cluster_create(
    *,
    actor,
    name: str,
    description: str = "",
    kubeconfig_path: str = "",
    context: str = "",
    in_cluster: bool = False,
) -> Cluster:
    _require_platform_admin(actor)
    cluster = Cluster(
        name=name,
        description=description,
        kubeconfig_path=kubeconfig_path,
        context=context,
        in_cluster=in_cluster,
    )
    _validate(cluster)
    _check_connection(cluster)
    cluster.save()
    audit_record(
        actor=actor,
        action="cluster.create",
        target=cluster,
        after=snapshot(cluster, AUDITED_FIELDS),
    )
    return cluster


@transaction.atomic
def cluster_update(*, actor, cluster: Cluster, **changes) -> Cluster:
    """Change any of CLUSTER_FIELDS; an unchanged cluster writes no audit event. A changed
    kubeconfig, context or in_cluster is checked against the cluster again."""
    _require_platform_admin(actor)
    unknown = set(changes) - set(CLUSTER_FIELDS)
    if unknown:
        raise TypeError(f"cluster_update() got unexpected fields: {', '.join(sorted(unknown))}")
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    before = snapshot(cluster, AUDITED_FIELDS)
    for field, value in changes.items():
        setattr(cluster, field, value)
    _validate(cluster)
    if any(getattr(cluster, field) != before[field] for field in CONNECTION_FIELDS):
        _check_connection(cluster)
    after = snapshot(cluster, AUDITED_FIELDS)
    if after != before:
        cluster.save()
        audit_record(
            actor=actor, action="cluster.update", target=cluster, before=before, after=after
        )
    return cluster

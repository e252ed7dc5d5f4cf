"""Every write to the catalog. The wizard, the edit forms and the API all come through here."""

from collections.abc import Callable
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import Team, User
from apps.audit.services import audit_record, snapshot
from apps.catalog.delivery import clean_strategy_params
from apps.catalog.manifests import checked_manifests
from apps.catalog.models import (
    Cluster,
    Dependency,
    Environment,
    EnvironmentKind,
    GoldenPathTemplate,
    Resource,
    Service,
    System,
    Tag,
)
from apps.catalog.pipelines import parse_reference, pipeline_files, service_spec
from apps.core.exceptions import Conflict, Gone

EDITABLE_FIELDS = (
    "title", "description", "owner", "system", "type", "lifecycle", "tier", "language",
    "repository_url", "runbook_url", "on_call", "links", "image", "container_port", "replicas",
    "cpu", "memory", "health_path", "autoscale_max", "pdb_min_available", "strategy",
    "strategy_params", "template",
)  # fmt: skip
AUDITED_FIELDS = ("name", *EDITABLE_FIELDS)

DEFAULT_ENVIRONMENTS = (
    ("dev", EnvironmentKind.DEVELOPMENT),
    ("staging", EnvironmentKind.STAGING),
    ("prod", EnvironmentKind.PRODUCTION),
)
# Template values a new service starts from unless the caller says otherwise.
TEMPLATE_DEFAULTS = ("container_port", "health_path", "cpu", "memory", "strategy", "language")


def service_snapshot(service: Service) -> dict:
    data = snapshot(service, AUDITED_FIELDS)
    data["owner"] = service.owner.slug if service.owner_id else None
    data["system"] = service.system.name if service.system is not None else None
    data["template"] = str(service.template) if service.template_id else None
    data["tags"] = sorted(service.tags.values_list("name", flat=True)) if service.pk else []
    return data


def _require_owner(actor: User, owner: Team | None) -> None:
    if owner is None:
        raise ValidationError({"owner": "Choose the team that owns the service."})
    if not permissions.can_act_for_team(actor, owner.pk):
        raise ValidationError({"owner": f"You are not a member of team {owner.slug}."})


def _require_editor(actor: User, service: Service) -> None:
    permissions.require(
        permissions.can_act_for_team(actor, service.owner_id),
        "Only the owning team and platform admins change a service.",
    )


def _normalise_tags(tags) -> list[str]:
    clean = sorted({str(tag).strip().lower() for tag in tags or [] if str(tag).strip()})
    for tag in clean:
        if len(tag) > 63:
            raise ValidationError({"tags": f"Tag {tag[:20]!r}… is longer than 63 characters."})
    return clean


def _set_tags(service: Service, tags: list[str]) -> None:
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=tags)}
    missing = [Tag(name=name) for name in tags if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=tags)}
    service.tags.set([existing[name] for name in tags])


def _generate_manifests(service: Service) -> None:
    manifests, errors = checked_manifests(service)
    if errors:
        raise ValidationError({"manifests": errors})
    service.manifests = manifests


def default_namespace(team_slug: str, environment: str) -> str:
    """An environment's namespace when its spec names none."""
    return f"{team_slug}-{environment}"[:63].strip("-")


def environment_rows(service: Service, environments: list[dict] | None = None) -> list[Environment]:
    """The service's environments, checked and unsaved: those given, or by default dev, staging
    and prod in the team's namespaces. The catalog's import gives new services the defaults."""
    specs = environments or [
        {"name": name, "kind": kind, "replicas": 1 if kind != EnvironmentKind.PRODUCTION else None}
        for name, kind in DEFAULT_ENVIRONMENTS
    ]
    rows, seen = [], set()
    for order, spec in enumerate(specs, start=1):
        name = str(spec.get("name", "")).strip()
        if name in seen:
            raise ValidationError({"environments": f"Environment {name!r} is listed twice."})
        seen.add(name)
        row = Environment(
            service=service,
            name=name,
            kind=spec.get("kind") or EnvironmentKind.DEVELOPMENT,
            order=order,
            namespace=spec.get("namespace") or default_namespace(service.owner.slug, name),
            replicas=spec.get("replicas") or service.replicas,
            cluster=spec.get("cluster"),
            soak_seconds=spec.get("soak_seconds") or 0,
            auto_promote=bool(spec.get("auto_promote")),
        )
        try:
            # Both unique constraints name the service, which may not be saved yet: a name
            # listed twice is refused above, and the orders are numbered in turn.
            row.full_clean(exclude=["service"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            details = "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
            )
            raise ValidationError(
                {"environments": f"Environment {order} ({name}): {details}"}
            ) from None
        rows.append(row)
    if not rows:
        raise ValidationError({"environments": "A service needs at least one environment."})
    return rows


@transaction.atomic
def service_create(
    *,
    actor: User,
    name: str,
    owner: Team | None,
    tags: list[str] | None = None,
    environments: list[dict] | None = None,
    depends_on: list[Service] | None = None,
    **fields,
) -> Service:
    """Create a service with its environments and generated manifests, in one transaction."""
    permissions.require(
        permissions.can_create_services(actor), "Only developers in a team can create services."
    )
    _require_owner(actor, owner)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: "Unknown field." for field in unknown})
    template: GoldenPathTemplate | None = fields.get("template")
    if template is not None:
        for field in TEMPLATE_DEFAULTS:
            fields.setdefault(field, getattr(template, field))
        # The template's canary steps or verification gate, for its own strategy only.
        if fields["strategy"] == template.strategy:
            fields.setdefault("strategy_params", template.strategy_params)
    strategy = fields.get("strategy") or "rolling"
    fields["strategy_params"] = clean_strategy_params(strategy, fields.get("strategy_params"))
    service = Service(name=(name or "").strip(), owner=owner, **fields)
    service.full_clean()
    clean_tags = _normalise_tags(tags)
    _generate_manifests(service)
    try:
        with transaction.atomic():
            service.save()
    except IntegrityError:
        # Another request took the name between our check and the insert.
        raise ValidationError(
            {"name": f"A service called {service.name!r} already exists."}
        ) from None
    _set_tags(service, clean_tags)
    Environment.objects.bulk_create(environment_rows(service, environments))
    if depends_on:
        _set_dependencies(service, services=depends_on, resources=[])
    audit_record(
        actor=actor, action="service.create", target=service, after=service_snapshot(service)
    )
    return service


@transaction.atomic(durable=True)
def service_update(
    *,
    actor: User,
    service: Service,
    depends_on: list[Service] | None = None,
    tags: list[str] | None = None,
    **changes,
) -> Service:
    """Edit a service, its tags and the services it depends on: one edit, one transaction and
    one audit row, so a refused part (a bad field, a service depending on itself) saves nothing.
    None for `depends_on` or `tags` leaves them as they are."""
    service = _lock(service)
    _require_editor(actor, service)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in unknown})
    before = service_snapshot(service)
    if depends_on is not None:
        before["depends_on"] = _dependency_labels(service)
    if "owner" in changes and changes["owner"] != service.owner:
        _require_owner(actor, changes["owner"])
    for field, value in changes.items():
        setattr(service, field, value)
    if "strategy" in changes or "strategy_params" in changes:
        service.strategy_params = clean_strategy_params(service.strategy, service.strategy_params)
    service.full_clean()
    _generate_manifests(service)
    service.save()
    if tags is not None:
        _set_tags(service, _normalise_tags(tags))
    after = service_snapshot(service)
    if depends_on is not None:
        _set_dependencies(service, services=depends_on, resources=[])
        after["depends_on"] = _dependency_labels(service)
    changed = {key for key in after if after[key] != before.get(key)}
    if changed:
        audit_record(
            actor=actor,
            action="service.update",
            target=service,
            before={key: before.get(key) for key in sorted(changed)},
            after={key: after[key] for key in sorted(changed)},
        )
    return service


@transaction.atomic
def service_delete(*, actor: User, service: Service) -> None:
    permissions.require(
        permissions.is_platform_admin(actor), "Only platform admins delete services."
    )
    service = _lock(service)
    before = service_snapshot(service)
    audit_record(actor=actor, action="service.delete", target=service, before=before)
    service.delete()


def _lock(service: Service) -> Service:
    """The service's row, locked for this transaction; Gone (404) if it was deleted meanwhile."""
    locked = (
        Service.objects.select_for_update(of=("self",))
        .select_related("owner")
        .filter(pk=service.pk)
        .first()
    )
    if locked is None:
        raise Gone(f"Service {service.name} was deleted meanwhile.")
    return locked


def _set_dependencies(service: Service, *, services: list[Service], resources: list[Resource]):
    if any(target.pk == service.pk for target in services):
        raise ValidationError({"depends_on": "A service cannot depend on itself."})
    # Locked until commit: a delete of one of them waits, then removes our rows with it.
    for model, targets in ((Service, services), (Resource, resources)):
        wanted = {target.pk for target in targets}
        found = model.objects.select_for_update(no_key=True).filter(pk__in=wanted)
        if len(found.values_list("pk", flat=True)) < len(wanted):
            raise Conflict({"depends_on": "Something it depends on was deleted meanwhile."})
    Dependency.objects.filter(source=service).delete()
    Dependency.objects.bulk_create(
        [Dependency(source=service, target_service=target) for target in services]
        + [Dependency(source=service, target_resource=target) for target in resources]
    )


def _dependency_labels(service: Service) -> list[str]:
    rows = Dependency.objects.filter(source=service).select_related(
        "target_service", "target_resource"
    )
    labels = []
    for row in rows:  # one of the two targets, as the table's check constraint says
        if row.target_service is not None:
            labels.append(f"service:{row.target_service.name}")
        elif row.target_resource is not None:
            labels.append(f"resource:{row.target_resource.name}")
    return sorted(labels)


@transaction.atomic
def service_dependencies_set(
    *,
    actor: User,
    service: Service,
    services: list[Service],
    resources: list[Resource] | None = None,
) -> None:
    """Replace what the service depends on. Cycles are allowed (they happen); traversal copes."""
    service = _lock(service)
    _require_editor(actor, service)
    before = _dependency_labels(service)
    _set_dependencies(service, services=services, resources=resources or [])
    after = _dependency_labels(service)
    if before != after:
        audit_record(
            actor=actor,
            action="service.dependencies",
            target=service,
            before={"depends_on": before},
            after={"depends_on": after},
        )


@transaction.atomic
def system_create(
    *, actor: User, name: str, title: str = "", description: str = "", owner=None
) -> System:
    if owner is not None:
        _require_owner(actor, owner)
    else:
        permissions.require(permissions.is_platform_admin(actor), "Name the team that owns it.")
    system = System(name=name, title=title, description=description, owner=owner)
    system.full_clean()
    system.save()
    audit_record(
        actor=actor,
        action="system.create",
        target=system,
        after=snapshot(system, ("name", "title", "description")),
    )
    return system


TEMPLATE_AUDITED = (
    "name", "version", "title", "strategy", "strategy_params", "is_default", "required_gates",
)  # fmt: skip


def _take_default(template: GoldenPathTemplate) -> dict | None:
    """Make `template` the default (unsaved); the version that was stops being it. Returns the
    audit row's `before`."""
    previous = (
        GoldenPathTemplate.objects.select_for_update()
        .filter(is_default=True)
        .exclude(pk=template.pk)
        .first()
    )
    template.is_default = True
    if previous is None:
        return None
    previous.is_default = False
    previous.save(update_fields=["is_default"])
    return {"default": str(previous)}


@transaction.atomic
def template_create(
    *, actor: User, name: str, title: str, is_default: bool = False, **fields
) -> GoldenPathTemplate:
    """A new version of a golden-path template: the next number after the latest. Made the
    default, it takes over from the version that was (one default at most)."""
    permissions.require(permissions.is_platform_admin(actor), "Only platform admins add templates.")
    latest = (
        GoldenPathTemplate.objects.select_for_update()
        .filter(name=name)
        .order_by("-version")
        .first()
    )
    template = GoldenPathTemplate(
        name=name, title=title, version=(latest.version + 1) if latest else 1, **fields
    )
    template.full_clean()
    template.strategy_params = clean_strategy_params(template.strategy, template.strategy_params)
    before = _take_default(template) if is_default else None
    template.save()
    audit_record(
        actor=actor,
        action="template.create",
        target=template,
        before=before,
        after=snapshot(template, TEMPLATE_AUDITED),
    )
    return template


@transaction.atomic
def template_make_default(*, actor, template: GoldenPathTemplate) -> GoldenPathTemplate:
    """Make an existing version the golden path new services start from."""
    permissions.require(
        permissions.is_platform_admin(actor), "Only platform admins choose the default template."
    )
    template = GoldenPathTemplate.objects.select_for_update().get(pk=template.pk)
    if template.is_default:
        return template
    before = _take_default(template)
    template.save(update_fields=["is_default"])
    audit_record(
        actor=actor,
        action="template.make_default",
        target=template,
        before=before,
        after={"default": str(template)},
    )
    return template


def service_pipeline_reported(*, service: Service, reference: str) -> dict:
    """Record the pipeline template (`name@version`, apps/catalog/pipelines.py) that the
    service's CI says it runs. Called inside the write that carried it (a release's create),
    whose audit row takes the returned part. Raises a ValidationError naming
    `pipeline_template` for a malformed reference."""
    name, version = parse_reference(reference)
    service.pipeline_template, service.pipeline_template_version = name, version
    service.pipeline_reported_at = timezone.now()
    Service.objects.filter(pk=service.pk).update(
        pipeline_template=name,
        pipeline_template_version=version,
        pipeline_reported_at=service.pipeline_reported_at,
    )
    return {"pipeline_template": f"{name}@{version}"}


class _DryRun(Exception):
    """Unwinds a preview's transaction."""


def service_preview(*, actor: User, **arguments) -> dict:
    """What service_create would make, without keeping it: the same checks, the generated
    Kubernetes manifests, the catalog-info.yaml and, on a golden path, the CI pipelines. Raises
    the same ValidationError."""
    from apps.catalog.backstage.exporter import service_catalog_info_yaml
    from apps.catalog.manifests import manifests_yaml

    preview: dict = {}
    try:
        with transaction.atomic():
            service = service_create(actor=actor, **arguments)
            spec = service_spec(service)
            preview = {
                # The standard CI pipelines, for a service on a golden path.
                "pipelines": pipeline_files(spec) if spec is not None else {},
                "manifests": service.manifests,
                "manifests_yaml": manifests_yaml(service.manifests),
                "catalog_info_yaml": service_catalog_info_yaml(service),
                "environments": [
                    {
                        "name": env.name,
                        "kind": env.kind,
                        "namespace": env.namespace,
                        "replicas": env.replicas,
                    }
                    for env in service.environments.all()
                ],
            }
            raise _DryRun
    except _DryRun:
        pass
    return preview


# --- Clusters ---------------------------------------------------------------------------------
# Registering and changing the Kubernetes clusters environments deploy to: platform admins only,
# validated in full (Runway must reach the cluster's API server before it is saved), audited.
# The catalog keeps the clusters but does not talk to them: the caller passes the
# `check_connection` that reaches one (the rollouts app's kube.cluster_server_version). It takes
# `kubeconfig`, `context` and `in_cluster` and returns the API server's version; it raises
# LookupError when the kubeconfig has no such context, and ValueError when the connection cannot
# be used, the server not answering included.

ConnectionCheck = Callable[..., str]

CLUSTER_FIELDS = ("name", "description", "kubeconfig_path", "context", "in_cluster")
CLUSTER_CONNECTION_FIELDS = ("kubeconfig_path", "context", "in_cluster")
CLUSTER_AUDITED_FIELDS = (*CLUSTER_FIELDS, "server_version")


def _require_cluster_admin(actor: User) -> None:
    permissions.require(
        permissions.is_platform_admin(actor), "Only platform admins register and change clusters."
    )


def _cluster_validate(cluster: Cluster) -> None:
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


def _cluster_check_connection(cluster: Cluster, check_connection: ConnectionCheck) -> None:
    """Ask the API server for its version the way the executor will reach it, so that a cluster
    Runway cannot use is refused now, naming the field to fix, instead of failing rollouts."""
    try:
        cluster.server_version = check_connection(
            kubeconfig=cluster.kubeconfig_path,
            context=cluster.context,
            in_cluster=cluster.in_cluster,
        )
    except LookupError as exc:
        raise ValidationError({"context": str(exc)}) from exc
    except ValueError as exc:
        field = "in_cluster" if cluster.in_cluster else "kubeconfig_path"
        raise ValidationError({field: str(exc)}) from exc


@transaction.atomic
def cluster_create(
    *,
    actor: User,
    name: str,
    description: str = "",
    kubeconfig_path: str = "",
    context: str = "",
    in_cluster: bool = False,
    check_connection: ConnectionCheck,
) -> Cluster:
    _require_cluster_admin(actor)
    cluster = Cluster(
        name=name,
        description=description,
        kubeconfig_path=kubeconfig_path,
        context=context,
        in_cluster=in_cluster,
    )
    _cluster_validate(cluster)
    _cluster_check_connection(cluster, check_connection)
    cluster.save()
    audit_record(
        actor=actor,
        action="cluster.create",
        target=cluster,
        after=snapshot(cluster, CLUSTER_AUDITED_FIELDS),
    )
    return cluster


@transaction.atomic
def cluster_update(
    *, actor: User, cluster: Cluster, check_connection: ConnectionCheck, **changes
) -> Cluster:
    """Change any of CLUSTER_FIELDS; an unchanged cluster writes no audit event. A changed
    kubeconfig, context or in_cluster is checked against the cluster again."""
    _require_cluster_admin(actor)
    unknown = set(changes) - set(CLUSTER_FIELDS)
    if unknown:
        raise TypeError(f"cluster_update() got unexpected fields: {', '.join(sorted(unknown))}")
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    before = snapshot(cluster, CLUSTER_AUDITED_FIELDS)
    for field, value in changes.items():
        setattr(cluster, field, value)
    _cluster_validate(cluster)
    if any(getattr(cluster, field) != before[field] for field in CLUSTER_CONNECTION_FIELDS):
        _cluster_check_connection(cluster, check_connection)
    after = snapshot(cluster, CLUSTER_AUDITED_FIELDS)
    if after != before:
        cluster.save()
        audit_record(
            actor=actor, action="cluster.update", target=cluster, before=before, after=after
        )
    return cluster

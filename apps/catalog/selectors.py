"""Reads for the catalog pages and API: querysets with their joins decided here, once."""

from dataclasses import dataclass, field
from functools import cache

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Count, F, OuterRef, Prefetch, QuerySet, Subquery

from apps.accounts.models import Team
from apps.catalog.models import (
    Dependency,
    Environment,
    GoldenPathTemplate,
    Lifecycle,
    Service,
    ServiceType,
    Strategy,
    System,
    Tag,
    Tier,
)
from apps.core.lookups import AnyOf, any_of_parameter

FACETS = {
    "owner": ("owner__slug", None),
    "lifecycle": ("lifecycle", Lifecycle),
    "tier": ("tier", Tier),
    "type": ("type", ServiceType),
    "strategy": ("strategy", Strategy),
}


def service_list() -> QuerySet[Service]:
    return Service.objects.select_related("owner", "system", "template").prefetch_related("tags")


# What the services list API shows of each (ServiceListSerializer): a service row also holds
# its manifests, annotations and other JSON, which the list would decode only to drop.
LIST_COLUMNS = (
    "name", "title", "description", "owner__slug", "system__name", "type", "lifecycle", "tier",
    "language", "repository_url", "strategy", "template__name", "template__version", "updated_at",
)  # fmt: skip


def service_list_rows() -> QuerySet[Service]:
    """service_list with only the columns the services list API shows."""
    return service_list().only(*LIST_COLUMNS)


# What the catalog page shows of each (catalog/partials/_results.html).
PAGE_COLUMNS = (
    "name", "title", "owner__name", "system__name", "tier", "lifecycle", "type", "strategy",
)  # fmt: skip


def service_list_page() -> QuerySet[Service]:
    """service_list with only the columns the catalog page shows."""
    return (
        Service.objects.select_related("owner", "system")
        .prefetch_related("tags")
        .only(*PAGE_COLUMNS)
    )


def service_detail_queryset() -> QuerySet[Service]:
    """Services with their environments, and their golden path's newest version
    (`template_latest_version`: whether the pipeline they report is the current one)."""
    return (
        service_list()
        .prefetch_related(_environments())
        .annotate(template_latest_version=_newest_template_version())
    )


def service_detail_with_tag_names() -> QuerySet[Service]:
    """As service_detail_queryset, for a one-service read (the service page, the API's): on
    PostgreSQL its tags' names come in the service's own row (`tag_names`), which saves that
    read a query. Read them with service_tag_names."""
    if connection.vendor != "postgresql":
        return service_detail_queryset()
    tags = Tag.objects.filter(services=OuterRef("pk")).order_by("name").values("name")
    return (
        service_list()
        .prefetch_related(None)
        .prefetch_related(_environments())
        .annotate(template_latest_version=_newest_template_version(), tag_names=ArraySubquery(tags))
    )


def service_tag_names(service: Service) -> list[str]:
    """Its tags' names, in order: from service_detail_with_tag_names's row when it has them."""
    names = getattr(service, "tag_names", None)
    return names if names is not None else [tag.name for tag in service.tags.all()]


def _environments() -> Prefetch:
    return Prefetch(
        "environments", queryset=Environment.objects.select_related("cluster").order_by("order")
    )


def _newest_template_version() -> Subquery:
    newest = (
        GoldenPathTemplate.objects.filter(name=OuterRef("template__name"))
        .order_by("-version")
        .values("version")[:1]
    )
    return Subquery(newest)


def environment_queryset() -> QuerySet[Environment]:
    """Environments with their service (its owner decides who edits) and cluster."""
    return Environment.objects.select_related("service__owner", "cluster")


def environment_names() -> list[str]:
    """The distinct names of all environments, in order: a few names over tens of thousands of
    rows. Each step of the recursive query reads the next name from environment_name_idx, so
    it costs a few index probes, where SELECT DISTINCT reads every row."""
    table = connection.ops.quote_name(Environment._meta.db_table)
    # Only the model's own table name is interpolated; there are no parameters.
    statement = (
        "WITH RECURSIVE names (name) AS ("  # noqa: S608
        f" SELECT (SELECT MIN(name) FROM {table})"
        " UNION ALL"
        f" SELECT (SELECT MIN(name) FROM {table} WHERE name > names.name)"
        " FROM names WHERE names.name IS NOT NULL"
        ") SELECT name FROM names WHERE name IS NOT NULL ORDER BY name"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement)
        return [name for (name,) in cursor.fetchall()]


def service_facets(queryset: QuerySet[Service]) -> dict[str, list[dict]]:
    """How many of the matching services fall under each filter value, counted by the database."""
    if connection.vendor == "postgresql":
        counts = _facet_counts_in_one_scan(queryset)
    else:
        base = queryset.order_by()
        counts = {
            name: list(base.values_list(column).annotate(count=Count("id")))
            for name, (column, _) in FACETS.items()
        }
    facets = {}
    for name, (_, choices) in FACETS.items():
        labels = dict(choices.choices) if choices else {}
        rows = sorted(counts[name], key=lambda row: (-row[1], row[0]))
        facets[name] = [
            {"value": value, "label": labels.get(value, value), "count": count}
            for value, count in rows
        ]
    return facets


def services_counted(facets: dict[str, list[dict]]) -> int:
    """How many services service_facets counted: each facet is a column's every value, NULL's
    too, so any one of them adds up to all the matching services."""
    first = next(iter(facets.values()), [])
    return sum(item["count"] for item in first)


def _facet_counts_in_one_scan(queryset: QuerySet[Service]) -> dict[str, list[tuple]]:
    """Every facet from one pass over the matching services (GROUPING SETS), instead of one
    query, and one search over the catalog, per facet."""
    columns = [column for column, _ in FACETS.values()]
    inner, params = queryset.order_by().values_list(*columns).query.sql_with_params()
    aliases = [f"f{n}" for n in range(len(columns))]
    sets = ", ".join(f"({alias})" for alias in aliases)
    # Only generated aliases are interpolated; the values stay parameters of the inner query.
    statement = (
        f"SELECT {', '.join(aliases)}, count(*), "  # noqa: S608
        f"{' + '.join(f'(GROUPING({a}) << {n})' for n, a in enumerate(aliases))} "
        f"FROM ({inner}) AS matching ({', '.join(aliases)}) GROUP BY GROUPING SETS ({sets})"
    )
    counts: dict[str, list[tuple]] = {name: [] for name in FACETS}
    names = list(FACETS)
    everything_but = {(1 << len(names)) - 1 - (1 << n): name for n, name in enumerate(names)}
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        for *values, count, grouping in cursor.fetchall():
            name = everything_but[grouping]
            counts[name].append((values[names.index(name)], count))
    return counts


def filter_choices() -> dict:
    return {
        "teams": Team.objects.order_by("slug").values_list("slug", "name"),
        "systems": System.objects.order_by("name").values_list("name", "title"),
    }


def latest_templates() -> QuerySet[GoldenPathTemplate]:
    """The newest version of each golden-path template."""
    newest = (
        GoldenPathTemplate.objects.filter(name=OuterRef("name"))
        .order_by("-version")
        .values("version")[:1]
    )
    return GoldenPathTemplate.objects.filter(version=Subquery(newest)).order_by("name")


@dataclass
class GraphNode:
    name: str
    kind: str  # "service" or "resource"
    depth: int
    title: str = ""
    owner: str = ""


@dataclass
class DependencyGraph:
    upstream: list[GraphNode] = field(default_factory=list)  # what the service depends on
    downstream: list[GraphNode] = field(default_factory=list)  # who depends on it
    truncated: bool = False

    def level(self, direction: str, depth: int) -> list[GraphNode]:
        return [node for node in getattr(self, direction) if node.depth == depth]


def dependency_graph(service: Service, *, max_depth: int = 3, limit: int = 500) -> DependencyGraph:
    """Upstream and downstream, level by level (one query per level and direction). A visited
    set makes cycles harmless: each service appears once, at its nearest depth."""
    graph = DependencyGraph()
    graph.upstream, cut_up = _walk(service, "upstream", max_depth, limit)
    graph.downstream, cut_down = _walk(service, "downstream", max_depth, limit)
    graph.truncated = cut_up or cut_down
    return graph


def _walk(service: Service, direction: str, max_depth: int, limit: int):
    seen: set[int] = {service.pk}
    nodes: list[GraphNode] = []
    frontier: list[int] = [service.pk]
    for depth in range(1, max_depth + 1):
        if direction == "upstream":
            pairs = [
                (sid, "service", name, title, owner or "")
                if sid
                else (-rid, "resource", r_name, r_title, r_owner or "")
                for sid, name, title, owner, rid, r_name, r_title, r_owner in _level_rows(
                    direction, frontier
                )
            ]
        else:
            pairs = [
                (sid, "service", name, title, owner)
                for sid, name, title, owner in _level_rows(direction, frontier)
            ]
        next_frontier = []
        for key, kind, name, title, owner in pairs:
            if key in seen:
                continue
            seen.add(key)
            nodes.append(GraphNode(name, kind, depth, title, owner))
            if kind == "service":
                next_frontier.append(key)
            if len(nodes) >= limit:
                return nodes, True
        if not next_frontier:
            break
        frontier = next_frontier
    return nodes, False


def _level_query(direction: str, frontier: list[int]) -> QuerySet[Dependency, tuple]:
    """One level of the walk: what the frontier depends on (upstream) or who depends on it.
    Only the columns a node shows: whole service rows would bring their manifests and other
    JSON along, and decoding those dominated the page for well-connected services."""
    if direction == "upstream":
        return (
            Dependency.objects.filter(AnyOf(F("source_id"), frontier))
            .order_by("target_service__name", "target_resource__name")
            .values_list(
                "target_service_id",
                "target_service__name",
                "target_service__title",
                "target_service__owner__slug",
                "target_resource_id",
                "target_resource__name",
                "target_resource__title",
                "target_resource__owner__slug",
            )
        )
    return (
        Dependency.objects.filter(AnyOf(F("target_service_id"), frontier))
        .order_by("source__name")
        .values_list("source_id", "source__name", "source__title", "source__owner__slug")
    )


def _level_rows(direction: str, frontier: list[int]) -> list[tuple]:
    if connection.vendor != "postgresql":
        return list(_level_query(direction, frontier))
    with connection.cursor() as cursor:
        cursor.execute(_level_statement(direction), [any_of_parameter(frontier)])
        return cursor.fetchall()


@cache
def _level_statement(direction: str) -> str:
    """A level's SQL, compiled once: it differs between levels only in its one parameter, the
    frontier's array (AnyOf), and compiling these joins cost the service page more than
    running them."""
    statement, params = _level_query(direction, [0]).query.sql_with_params()
    assert params == (any_of_parameter([0]),), params  # the frontier is the only parameter
    return statement

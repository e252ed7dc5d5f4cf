"""Reads for the catalog pages and API: querysets with their joins decided here, once."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery

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
    Tier,
)

FACETS = {
    "owner": ("owner__slug", None),
    "lifecycle": ("lifecycle", Lifecycle),
    "tier": ("tier", Tier),
    "type": ("type", ServiceType),
    "strategy": ("strategy", Strategy),
}


def service_list() -> QuerySet[Service]:
    return Service.objects.select_related("owner", "system", "template").prefetch_related("tags")


def service_detail_queryset() -> QuerySet[Service]:
    environments = Environment.objects.select_related("cluster").order_by("order")
    return service_list().prefetch_related(Prefetch("environments", queryset=environments))


def service_facets(queryset: QuerySet[Service]) -> dict[str, list[dict]]:
    """How many of the matching services fall under each filter value, counted by the database."""
    facets = {}
    base = queryset.order_by()
    for name, (column, choices) in FACETS.items():
        rows = base.values(column).annotate(count=Count("id")).order_by("-count", column)
        labels = dict(choices.choices) if choices else {}
        facets[name] = [
            {
                "value": row[column],
                "label": labels.get(row[column], row[column]),
                "count": row["count"],
            }
            for row in rows
        ]
    return facets


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
    frontier: Iterable[int] = [service.pk]
    for depth in range(1, max_depth + 1):
        if direction == "upstream":
            rows = (
                Dependency.objects.filter(source_id__in=frontier)
                .select_related("target_service__owner", "target_resource")
                .order_by("target_service__name", "target_resource__name")
            )
            pairs = [
                (row.target_service, "service")
                if row.target_service_id
                else (row.target_resource, "resource")
                for row in rows
            ]
        else:
            rows = (
                Dependency.objects.filter(target_service_id__in=frontier)
                .select_related("source__owner")
                .order_by("source__name")
            )
            pairs = [(row.source, "service") for row in rows]
        next_frontier = []
        for target, kind in pairs:
            key = target.pk if kind == "service" else -target.pk
            if key in seen:
                continue
            seen.add(key)
            owner = target.owner.slug if getattr(target, "owner_id", None) else ""
            nodes.append(GraphNode(target.name, kind, depth, getattr(target, "title", ""), owner))
            if kind == "service":
                next_frontier.append(target.pk)
            if len(nodes) >= limit:
                return nodes, True
        if not next_frontier:
            break
        frontier = next_frontier
    return nodes, False

"""Positions for the small dependency picture on a service page: direct upstream on the left,
the service in the middle, direct downstream on the right. Plain numbers for an SVG template."""

from dataclasses import dataclass

from django.urls import reverse

from apps.catalog.selectors import DependencyGraph

WIDTH, NODE_W, NODE_H, GAP, TOP = 760, 200, 30, 12, 30
MAX_PER_SIDE = 8


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    label: str
    href: str = ""
    kind: str = "service"


def _column(nodes, x: int) -> list[Box]:
    shown = nodes[:MAX_PER_SIDE]
    boxes = [
        Box(
            x,
            TOP + i * (NODE_H + GAP),
            node.name,
            reverse("catalog:service-detail", args=[node.name]) if node.kind == "service" else "",
            node.kind,
        )
        for i, node in enumerate(shown)
    ]
    if len(nodes) > MAX_PER_SIDE:
        boxes.append(
            Box(
                x,
                TOP + len(shown) * (NODE_H + GAP),
                f"+{len(nodes) - len(shown)} more",
                kind="more",
            )
        )
    return boxes


def dependency_picture(service_name: str, graph: DependencyGraph) -> dict:
    left = _column(graph.level("upstream", 1), 10)
    right = _column(graph.level("downstream", 1), WIDTH - NODE_W - 10)
    rows = max(len(left), len(right), 1)
    height = TOP + rows * (NODE_H + GAP) + 10
    centre = Box((WIDTH - NODE_W) // 2, (height - NODE_H) // 2, service_name, kind="self")
    mid_y = centre.y + NODE_H // 2
    edges = [
        {"x1": box.x + NODE_W, "y1": box.y + NODE_H // 2, "x2": centre.x, "y2": mid_y}
        for box in left
    ] + [
        {"x1": centre.x + NODE_W, "y1": mid_y, "x2": box.x, "y2": box.y + NODE_H // 2}
        for box in right
    ]
    return {
        "width": WIDTH,
        "height": height,
        "node_w": NODE_W,
        "node_h": NODE_H,
        "boxes": [*left, centre, *right],
        "edges": edges,
    }

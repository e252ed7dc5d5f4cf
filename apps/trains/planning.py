"""The train's plan: waves of members from the catalog's dependency graph. Pure: it is given
the members and the graph and reads nothing.

A member starts after every member it depends on, directly or through services that are not in
the train: if a depends on x (not a member) and x depends on b (a member), a waits for b, since
x will be talking to the new b. The walk stops at members (their own dependencies are theirs to
wait for) and ignores resources. Waves are sets, written sorted by name: the first holds the
members that wait for no other member, each next one the members whose dependencies all lie in
earlier waves. How many of one wave roll out at once (`max_parallel`) is the executor's concern.

A cycle among members (possibly through non-members) has no order: it is refused, named in
order ("a → b → c → a": a depends on b, b on c, c on a), starting at its first name. A member
that reaches only itself again through non-members is not a cycle among members: nothing in the
train waits for anything.
"""

from collections import deque
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError


class PlanCycle(ValidationError):
    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__(
            f"These members depend on each other in a cycle: {' → '.join(cycle)}. "
            "Take one of them out of the train, or break the dependency in the catalog."
        )


def member_dependencies(
    members: Iterable[str], depends_on: Mapping[str, Iterable[str]]
) -> dict[str, dict[str, list[str]]]:
    """For each member, the members it waits for, each with the non-members in between."""
    member_set = set(members)
    result: dict[str, dict[str, list[str]]] = {}
    for member in member_set:
        found: dict[str, list[str]] = {}
        parent: dict[str, str | None] = {}
        queue: deque[str] = deque()
        for target in sorted(depends_on.get(member, ())):
            if target not in parent:
                parent[target] = None
                queue.append(target)
        while queue:
            node = queue.popleft()
            if node in member_set:
                if node != member and node not in found:
                    found[node] = _via(node, parent)
                continue
            for target in sorted(depends_on.get(node, ())):
                if target not in parent:
                    parent[target] = node
                    queue.append(target)
        result[member] = found
    return result


def _via(node: str, parent: Mapping[str, str | None]) -> list[str]:
    path = []
    step = parent[node]
    while step is not None:
        path.append(step)
        step = parent[step]
    return path[::-1]


def plan_waves(members: Iterable[str], depends_on: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The waves, first first, each sorted; PlanCycle when members depend on each other in a
    cycle."""
    waits_for = member_dependencies(members, depends_on)
    placed: set[str] = set()
    left = set(waits_for)
    waves: list[list[str]] = []
    while left:
        wave = sorted(member for member in left if waits_for[member].keys() <= placed)
        if not wave:
            raise PlanCycle(_a_cycle(left, waits_for))
        waves.append(wave)
        placed.update(wave)
        left.difference_update(wave)
    return waves


def _a_cycle(left: set[str], waits_for: Mapping[str, Mapping[str, list[str]]]) -> list[str]:
    """One cycle among the members left unplaced. Each of them waits for at least one other
    left unplaced, so following the first such from the first name must come round."""
    walk: list[str] = []
    node = min(left)
    while node not in walk:
        walk.append(node)
        node = min(dependency for dependency in waits_for[node] if dependency in left)
    loop = walk[walk.index(node) :]
    start = loop.index(min(loop))
    loop = loop[start:] + loop[:start]
    named: list[str] = []
    for here, there in zip(loop, loop[1:] + loop[:1], strict=True):
        named += [here, *waits_for[here][there]]
    return [*named, loop[0]]

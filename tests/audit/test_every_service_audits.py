"""Every write service leaves an audit row: a walk over the services modules finds each public
function that opens a transaction and checks that it reaches `audit_record` (directly, through
a transition function, or through another service that does). A new service that forgets it
fails here; the few that write only derived data or Runway's own bookkeeping are listed, each
with why."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    path
    for pattern in ("apps/*/services.py", "apps/*/services/*.py", "apps/*/*/services.py")
    for path in ROOT.glob(pattern)
)
AUDITING = {
    "audit_record",
    "audit_records",
    "audit_state_changes",
    "release_transition",
    "rollout_transition",
}

# Writes that are not a person's change, or whose audit row is written by their caller.
NOT_AUDITED = {
    "apps/insights/services/facts.py": "facts, recorded from audited webhook deliveries "
    "(webhook_delivery.record) and from release transitions, which are audited",
    "apps/insights/services/runway.py": "Runway's releases as facts, each from a release "
    "transition that wrote its own audit row (release.transition)",
    "apps/insights/services/rollups.py": "roll-ups recomputed from the facts",
    "apps/core/services.py:worker_heartbeat_record": "a worker saying it is alive",
    "apps/rollouts/services.py:rollouts_note_running": "the running version noted on rollouts "
    "whose start was audited (rollout.start), as their first steps note it",
    "apps/insights/scorecards/services.py:scorecards_refresh": "scores derived from the catalog",
    "apps/insights/scorecards/services.py:scorecard_snapshots_take": "weekly copies of the scores",
}


def is_transactional(function: ast.FunctionDef) -> bool:
    """Decorated with transaction.atomic, or opening one inside."""
    return "transaction.atomic" in ast.unparse(function)


def calls_of(function: ast.FunctionDef) -> set[str]:
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


def test_every_transactional_service_reaches_an_audit_row():
    functions, services = {}, []
    for path in MODULES:
        module = str(path.relative_to(ROOT))
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                functions.setdefault(node.name, set()).update(calls_of(node))
                if not node.name.startswith("_") and is_transactional(node):
                    services.append((module, node.name))
    audits = set(AUDITING)
    while True:  # names whose calls reach an auditing name, to the fixed point
        more = {name for name, calls in functions.items() if calls & audits} - audits
        if not more:
            break
        audits |= more
    silent = [
        f"{module}:{name}"
        for module, name in services
        if name not in audits
        and module not in NOT_AUDITED
        and f"{module}:{name}" not in NOT_AUDITED
    ]
    assert len(services) > 40  # the walk found the services
    assert silent == [], f"write services with no audit row: {silent}"


def test_each_exemption_is_needed():
    for exempt in NOT_AUDITED:
        module, _, name = exempt.partition(":")
        tree = ast.parse((ROOT / module).read_text())
        named = [
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and (node.name == name or not name)
        ]
        assert named, exempt
        assert all("audit_record" not in calls_of(function) for function in named), exempt

"""The demo sits above every app: it may import any of them, and none imports it."""

import ast
from pathlib import Path

APPS = Path(__file__).resolve().parents[2] / "apps"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_app_imports_the_demo():
    importers = [
        str(path.relative_to(APPS))
        for path in APPS.rglob("*.py")
        if path.relative_to(APPS).parts[0] != "demo"
        and any(
            name == "apps.demo" or name.startswith("apps.demo.") for name in imported_modules(path)
        )
    ]

    assert importers == []


def test_the_check_would_see_an_app_importing_the_demo(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("from apps import demo\nfrom apps.demo.world import organisation\n")

    assert {"apps.demo", "apps.demo.world"} <= imported_modules(module)

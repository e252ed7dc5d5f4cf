"""Apps depend one way, like floors of a house: core, accounts and audit ← catalog and onboarding
← supplychain ← releases ← trains ← rollouts ← insights (and the demo above them all). A lower
app imports no higher one, and its templates name no higher app's URLs, templates or template
tags: a higher app contributes through the registries a lower one keeps (panels, page actions,
evidence sections, the menu)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "apps"
TEMPLATES = ROOT / "templates"
FLOOR = {
    "core": 0,
    "accounts": 0,
    "audit": 0,
    "catalog": 1,
    "onboarding": 1,
    "supplychain": 2,
    "releases": 3,
    "trains": 4,
    "rollouts": 5,
    "insights": 6,
    "demo": 7,
}
# The template directories of the apps whose name they do not share.
TEMPLATE_OWNER = {"account": "accounts", "mfa": "accounts", "admin": "core", "partials": "core"}
NAMED = re.compile(
    r"""{%\s*url\s+['"](?P<url>[a-z_]+):"""
    r"""|{%\s*(?:include|extends)\s+['"](?P<template>[a-z_]+)/"""
    r"""|{%\s*load\s+(?P<libraries>[a-z_ ]+?)\s*%}"""
)


def imported_apps(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "apps":
                names |= {f"apps.{alias.name}" for alias in node.names}
    return {name.split(".")[1] for name in names if name.startswith("apps.") and "." in name}


def tag_libraries() -> dict[str, str]:
    """Each template tag library's name and the app that defines it."""
    return {
        path.stem: path.parts[-3]
        for path in APPS.glob("*/templatetags/*.py")
        if path.stem != "__init__"
    }


def named_apps(template: Path, libraries: dict[str, str]) -> set[str]:
    apps = set()
    for match in NAMED.finditer(template.read_text()):
        if match["url"]:
            apps.add(match["url"])
        elif match["template"]:
            apps.add(TEMPLATE_OWNER.get(match["template"], match["template"]))
        else:
            apps |= {libraries[name] for name in match["libraries"].split() if name in libraries}
    return apps & set(FLOOR)


def upward_imports() -> list[str]:
    found = []
    for path in APPS.rglob("*.py"):
        app = path.relative_to(APPS).parts[0]
        if app not in FLOOR:
            continue
        for other in imported_apps(path) & set(FLOOR):
            if FLOOR[other] > FLOOR[app]:
                found.append(f"{path.relative_to(ROOT)} imports apps.{other}")
    return sorted(found)


def upward_names_in_templates() -> list[str]:
    libraries = tag_libraries()
    found = []
    for path in TEMPLATES.rglob("*.html"):
        folder = path.relative_to(TEMPLATES).parts[0]
        app = TEMPLATE_OWNER.get(folder, folder)
        if app not in FLOOR:
            continue
        for other in named_apps(path, libraries):
            if FLOOR[other] > FLOOR[app]:
                found.append(f"{path.relative_to(ROOT)} names {other}")
    return sorted(found)


def test_no_app_imports_an_app_above_it():
    assert upward_imports() == []


def test_no_template_names_an_app_above_its_own():
    assert upward_names_in_templates() == []


def test_releases_imports_nothing_of_rollouts_and_its_evidence_takes_sections_from_a_registry():
    releases = [
        str(path.relative_to(ROOT))
        for path in (APPS / "releases").rglob("*.py")
        if "rollouts" in imported_apps(path)
    ]
    assert releases == []
    assert "rollouts" in imported_apps(APPS / "rollouts" / "apps.py")
    assert "releases" in imported_apps(APPS / "rollouts" / "apps.py")


@pytest.mark.parametrize(
    "source",
    [
        "from apps.rollouts.models import Rollout\n",
        "import apps.rollouts.evidence\n",
        "from apps import rollouts\n",
        "def later():\n    from apps.rollouts import services\n",
    ],
)
def test_the_check_sees_every_way_of_importing_an_app(tmp_path, source):
    module = tmp_path / "module.py"
    module.write_text(source)
    assert imported_apps(module) == {"rollouts"}


@pytest.mark.parametrize(
    "source",
    [
        "{% url 'rollouts:detail' rollout.pk %}",
        '{% include "rollouts/partials/_status.html" %}',
        "{% load moments rollout_labels %}",
    ],
)
def test_the_check_sees_every_way_a_template_names_an_app(tmp_path, source):
    template = tmp_path / "page.html"
    template.write_text(source)
    assert named_apps(template, tag_libraries()) - {"core"} == {"rollouts"}


def runway_imports(path: Path) -> set[str]:
    """The top-level packages of Runway's own that a file imports."""
    own = {"apps", "portal", "simulator", "benchmarks", "cli", "tests"}
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names & own


@pytest.mark.parametrize("program", ["cli", "simulator"])
def test_the_command_and_the_simulator_are_programs_of_their_own(program):
    """`runway` speaks only the public API and the simulator only the Kubernetes API: neither
    imports Runway's apps, settings or tests."""
    leaks = {
        str(path.relative_to(ROOT)): runway_imports(path) - {program}
        for path in (ROOT / program).rglob("*.py")
    }
    assert {path: names for path, names in leaks.items() if names} == {}

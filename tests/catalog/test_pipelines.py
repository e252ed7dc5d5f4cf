"""The standard pipelines a golden-path template generates: what they do, in which order, and
that GitHub's and GitLab's own checks accept them (actionlint, and GitLab's CI schema as
check-jsonschema vendors it), both offline."""

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ValidationError

from apps.catalog.models import GoldenPathTemplate
from apps.catalog.pipelines import (
    GITHUB_PATH,
    GITLAB_PATH,
    TEMPLATE_ENV,
    image_repository,
    parse_reference,
    pipeline_files,
    service_spec,
    spec_for,
)
from apps.catalog.services import service_create
from apps.demo.world import TEMPLATES

BIN = Path(sys.executable).parent
ENVIRONMENTS = ["dev", "staging", "prod"]


def _template(spec) -> GoldenPathTemplate:
    return GoldenPathTemplate(
        name=spec.name,
        version=spec.version,
        language=spec.language,
        required_gates=list(spec.required_gates),
    )


# Every golden path the demo ships, and the toolchains and shapes the generator tells apart.
GOLDEN_PATHS = [_template(spec) for spec in TEMPLATES] + [
    GoldenPathTemplate(name="node-web", version=1, language="TypeScript"),
    GoldenPathTemplate(name="plain", version=7, language="", required_gates=["lint", "$(rm)"]),
]
IDS = [f"{t.name}@{t.version}" for t in GOLDEN_PATHS]


def _spec(template, environments=ENVIRONMENTS, image="registry.example.com/pay/checkout:1.2"):
    return spec_for(template=template, service="checkout", image=image, environments=environments)


def _write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def actionlint(root: Path) -> subprocess.CompletedProcess:
    # shellcheck checks the run: scripts where it is installed; without it actionlint skips them.
    shellcheck = [] if shutil.which("shellcheck") else ["-shellcheck="]
    return subprocess.run(
        [str(BIN / "actionlint"), "-no-color", "-pyflakes=", *shellcheck, GITHUB_PATH],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def gitlab_schema(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("template", GOLDEN_PATHS, ids=IDS)
def test_every_golden_path_s_github_workflow_passes_actionlint(template, tmp_path):
    _write(tmp_path, pipeline_files(_spec(template)))

    done = actionlint(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The check above can fail: a release job that waits for a job nobody defined."""
    files = pipeline_files(_spec(GOLDEN_PATHS[0]))
    files[GITHUB_PATH] = files[GITHUB_PATH].replace("needs: build", "needs: biuld", 1)
    _write(tmp_path, files)

    done = actionlint(tmp_path)

    assert done.returncode == 1
    assert "biuld" in done.stdout


def test_every_golden_path_s_gitlab_ci_validates_against_gitlab_s_schema(tmp_path):
    paths = []
    for number, template in enumerate(GOLDEN_PATHS):
        root = tmp_path / str(number)
        _write(root, pipeline_files(_spec(template)))
        paths.append(root / GITLAB_PATH)

    done = gitlab_schema(*paths)

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_gitlab_schema_catches_a_broken_file(tmp_path):
    files = pipeline_files(_spec(GOLDEN_PATHS[0]))
    files[GITLAB_PATH] = files[GITLAB_PATH].replace("resource_group: dev", "resource_group: [dev]")
    _write(tmp_path, files)

    done = gitlab_schema(tmp_path / GITLAB_PATH)

    assert done.returncode == 1
    assert "resource_group" in done.stdout


def test_the_github_workflow_builds_tests_uploads_evidence_and_releases_in_promotion_order():
    template = GoldenPathTemplate(
        name="python-web", version=3, language="python", required_gates=["tests", "scan"]
    )
    workflow = yaml.safe_load(pipeline_files(_spec(template))[GITHUB_PATH])

    assert workflow["env"][TEMPLATE_ENV] == "python-web@3"
    assert workflow["env"]["IMAGE"] == "registry.example.com/pay/checkout"
    jobs = workflow["jobs"]
    assert list(jobs) == ["test", "build", "release-dev", "release-staging", "release-prod"]
    assert jobs["build"]["needs"] == "test"
    assert jobs["release-dev"]["needs"] == "build"
    assert jobs["release-staging"]["needs"] == ["release-dev", "build"]
    assert jobs["release-prod"]["needs"] == ["release-staging", "build"]
    assert any("make test" in step.get("run", "") for step in jobs["test"]["steps"])
    build = "".join(step.get("run", "") for step in jobs["build"]["steps"])
    assert 'runway attest upload --digest "$DIGEST" evidence/*.json' in build
    for environment in ENVIRONMENTS:
        script = jobs[f"release-{environment}"]["steps"][-1]["run"]
        assert f"--env {environment} " in script and "--submit" in script
        assert '--image "$IMAGE" --digest "$DIGEST"' in script
        for check in ("tests", "scan"):
            assert f'--name {check} --status success --url "$RUN_URL"' in script
        assert 'runway release wait "$release"' in script


def test_the_gitlab_pipeline_does_the_same_in_the_same_order():
    template = GoldenPathTemplate(name="go-grpc", version=1, language="go")
    pipeline = yaml.safe_load(pipeline_files(_spec(template, ["qa", "live"]))[GITLAB_PATH])

    assert pipeline["variables"][TEMPLATE_ENV] == "go-grpc@1"
    assert pipeline["stages"] == ["test", "build", "evidence", "release-qa", "release-live"]
    assert pipeline["test"]["image"] == "golang:1.23"
    assert pipeline["evidence"]["script"] == [
        'runway attest upload --digest "$DIGEST" evidence/*.json'
    ]
    assert pipeline["release-qa"]["needs"] == ["build", "evidence"]
    assert pipeline["release-live"]["needs"] == ["build", "release-qa"]
    (script,) = pipeline["release-live"]["script"]
    assert "--env live " in script and "--name tests " in script  # no gates named: tests


def test_check_names_that_are_not_plain_words_are_left_out_of_the_scripts():
    spec = _spec(GOLDEN_PATHS[-1])

    assert spec.checks == ("lint",)
    assert "$(rm)" not in pipeline_files(spec)[GITHUB_PATH]


@pytest.mark.django_db
def test_a_catalog_service_s_pipelines_follow_its_template_and_its_environments(
    developer, payments, platform_admin
):
    from apps.catalog.services import template_create

    template = template_create(
        actor=platform_admin, name="python-web", title="Python", language="python"
    )
    service = service_create(
        actor=developer,
        name="ledger",
        owner=payments,
        template=template,
        image="registry.example.com/ledger:1.0",
        environments=[{"name": "test", "kind": "staging"}, {"name": "live", "kind": "production"}],
    )
    plain = service_create(actor=developer, name="notes", owner=payments)

    spec = service_spec(service)

    assert spec is not None and service_spec(plain) is None
    assert dataclasses.astuple(spec) == (
        "ledger", "python-web", 1, "python", ("tests",), ("test", "live"),
        "registry.example.com/ledger",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("registry.example.com/team/app:1.2", "registry.example.com/team/app"),
        ("registry.example.com:5000/app@sha256:" + "a" * 64, "registry.example.com:5000/app"),
        ("localhost:5000/app:1", "localhost:5000/app"),
        ("", "registry.example.com/svc"),
    ],
)
def test_the_image_repository_drops_the_tag_and_digest(image, repository):
    assert image_repository(image, "svc") == repository


@pytest.mark.parametrize("value", ["python-web", "python-web@", "@3", "python-web@v3", "web@0"])
def test_a_malformed_reference_names_the_field(value):
    with pytest.raises(ValidationError) as raised:
        parse_reference(value)
    assert "pipeline_template" in raised.value.message_dict


def test_a_reference_reads_as_name_and_version():
    assert parse_reference("python-web@12") == ("python-web", 12)


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_the_readme_s_excerpts_are_what_runway_generates(kind):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split(f"<!-- standard-pipeline: {kind} -->\n```yaml\n", 1)[1].split("```")[0]
    golden_path = next(t for t in GOLDEN_PATHS if (t.name, t.version) == ("python-web", 3))
    spec = spec_for(
        template=golden_path,
        service="checkout",
        image="registry.example.com/checkout",
        environments=ENVIRONMENTS,
    )
    generated = pipeline_files(spec)[GITHUB_PATH if kind == "github" else GITLAB_PATH]

    for part in block.split("# …\n"):
        assert part in generated, part

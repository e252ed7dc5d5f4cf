"""The standard CI pipelines a golden-path template gives its services: a GitHub Actions workflow
and a .gitlab-ci.yml, generated beside the manifests and catalog-info.yaml.

Both do the same, in the same order: test; build and push the image; sign it and upload its
evidence (`runway attest upload --digest`); then, for each of the service's environments in
promotion order, request a release of that digest (`runway release create --submit`), report
the template's required checks on it (`runway check report`) and wait for it (`runway release
wait`). The checks are reported between the two because a check belongs to a release, which
only exists once created; that is `release create --submit --wait` split around them.

Each pipeline names the template it came from in RUNWAY_PIPELINE_TEMPLATE, `<name>@<version>`,
which the `runway` command sends with every release it creates; Runway records it on the
service (apps/releases/services.py) and the KPI "services on standard pipelines" compares it
with the template's newest version. A template version never changes once made (a change is a
new version: services.template_create), and the pipeline is a function of the version and the
service, so `<name>@<version>` names the pipeline exactly.
"""

import re
import shlex
from dataclasses import dataclass

import yaml
from django.core.exceptions import ValidationError

from apps.catalog.models import GoldenPathTemplate, Service

TEMPLATE_ENV = "RUNWAY_PIPELINE_TEMPLATE"
GITHUB_PATH = ".github/workflows/runway.yml"
GITLAB_PATH = ".gitlab-ci.yml"
# The download view's names for the files (URL slugs), and the files' paths in a repository.
PIPELINE_FILES = {"github": GITHUB_PATH, "gitlab": GITLAB_PATH}

_REFERENCE = re.compile(
    r"^(?P<name>[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)@(?P<version>[1-9][0-9]{0,8})$"
)
# Check names that go into a shell line and a YAML value as they are.
_CHECK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# The toolchain the test job sets up, by the template's language; `make test` runs the tests.
_TOOLCHAINS = {
    "python": ("actions/setup-python@v6", {"python-version": "3.11"}, "python:3.11"),
    "go": ("actions/setup-go@v6", {"go-version": "stable"}, "golang:1.23"),
    "node": ("actions/setup-node@v5", {"node-version": "22"}, "node:22"),
    "javascript": ("actions/setup-node@v5", {"node-version": "22"}, "node:22"),
    "typescript": ("actions/setup-node@v5", {"node-version": "22"}, "node:22"),
}
_RUNWAY_IMAGE = "python:3.11-slim"  # where the gitlab jobs run the `runway` command


@dataclass(frozen=True)
class PipelineSpec:
    """What a service's pipelines are made of."""

    service: str
    template: str
    version: int
    language: str
    checks: tuple[str, ...]
    environments: tuple[str, ...]  # in promotion order
    image: str  # the repository, without tag or digest

    @property
    def reference(self) -> str:
        return f"{self.template}@{self.version}"


def parse_reference(value: str) -> tuple[str, int]:
    """`python-web@3` as ("python-web", 3); a ValidationError naming `pipeline_template`."""
    found = _REFERENCE.match((value or "").strip())
    if found is None:
        message = f"Give <template>@<version>, such as python-web@3, not {value!r}."
        raise ValidationError({"pipeline_template": message})
    return found["name"], int(found["version"])


def image_repository(image: str, service_name: str) -> str:
    """The service's image without its tag or digest (the registry's default when it has none)."""
    repository = (image or "").split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    return repository or f"registry.example.com/{service_name}"


def spec_for(
    *, template: GoldenPathTemplate, service: str, image: str, environments: list[str]
) -> PipelineSpec:
    checks = tuple(name for name in template.required_gates or () if _CHECK_NAME.match(str(name)))
    return PipelineSpec(
        service=service,
        template=template.name,
        version=template.version,
        language=(template.language or "").strip().lower(),
        checks=checks or ("tests",),
        environments=tuple(environments),
        image=image_repository(image, service),
    )


def service_spec(service: Service) -> PipelineSpec | None:
    """A catalog service's spec; None without a golden path. Reads its template and its
    environments (prefetched by the catalog's detail queryset)."""
    if service.template is None:
        return None
    environments = sorted(service.environments.all(), key=lambda env: env.order)
    return spec_for(
        template=service.template,
        service=service.name,
        image=service.image,
        environments=[env.name for env in environments],
    )


def reported_status(service: Service) -> str:
    """How the service's CI report compares with its golden path: "latest" for the newest
    version of its template, "outdated" for anything else, "none" before any report. Needs
    `template_latest_version` (selectors.service_detail_queryset annotates it)."""
    if not service.pipeline_template:
        return "none"
    latest = service.template is not None and (
        service.pipeline_template == service.template.name
        and service.pipeline_template_version == getattr(service, "template_latest_version", None)
    )
    return "latest" if latest else "outdated"


def pipeline_files(spec: PipelineSpec) -> dict[str, str]:
    """{path in the repository: content} for both CI systems."""
    return {GITHUB_PATH: github_workflow(spec), GITLAB_PATH: gitlab_ci(spec)}


# --- YAML ---------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Scripts as literal blocks, and repeated parts written out again (no anchors), so the
    files read as people write them."""

    def ignore_aliases(self, data) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(header: str, document: dict) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100)
    return header + body


def _header(spec: PipelineSpec) -> str:
    return (
        f"# Generated by Runway from the golden-path template {spec.template} "
        f"v{spec.version}.\n"
        "# Secrets: RUNWAY_URL, RUNWAY_TOKEN (a CI service account's), REGISTRY_USERNAME,\n"
        "# REGISTRY_PASSWORD, COSIGN_PRIVATE_KEY, COSIGN_PASSWORD. Variable RUNWAY_CLI: what pip\n"
        "# installs the runway command from.\n"
    )


def _registry(spec: PipelineSpec) -> str:
    first = spec.image.split("/", 1)[0]
    return first if "/" in spec.image and ("." in first or ":" in first) else "docker.io"


def _release_script(spec: PipelineSpec, environment: str, details_url: str) -> str:
    lines = [
        f'runway release create --service "$RUNWAY_SERVICE" --env {shlex.quote(environment)} \\',
        '  --image "$IMAGE" --digest "$DIGEST" --submit --output json > release.json',
        "release=$(jq -r .id release.json)",
    ]
    lines += [
        f'runway check report --release "$release" --name {shlex.quote(check)} '
        f'--status success --url "{details_url}"'
        for check in spec.checks
    ]
    lines.append('runway release wait "$release" --timeout 30m')
    return "\n".join(lines) + "\n"


_EVIDENCE = (
    'cosign sign --yes --key env://COSIGN_PRIVATE_KEY "$IMAGE@$DIGEST"\n'
    "mkdir -p evidence\n"
    "# Each signature and attestation a JSON document of its own, as runway attest upload wants.\n"
    'cosign download signature "$IMAGE@$DIGEST" \\\n'
    "  | jq -c '{payload: .Payload, signature: .Base64Signature}' > evidence.jsonl\n"
    'cosign download attestation "$IMAGE@$DIGEST" >> evidence.jsonl || true\n'
    "n=0\n"
    "while read -r line; do\n"
    '  n=$((n + 1)); printf \'%s\\n\' "$line" > "evidence/$n.json"\n'
    "done < evidence.jsonl\n"
)


# --- GitHub Actions -------------------------------------------------------------------------------


def github_workflow(spec: PipelineSpec) -> str:
    runway_env = {
        "RUNWAY_URL": "${{ secrets.RUNWAY_URL }}",
        "RUNWAY_TOKEN": "${{ secrets.RUNWAY_TOKEN }}",
    }
    # The runway command runs on Python 3.11, whatever the service's language.
    python = {"uses": "actions/setup-python@v6", "with": {"python-version": "3.11"}}
    install_runway = {"name": "Install the runway command", "run": 'pip install "$RUNWAY_CLI"\n'}
    setup = _TOOLCHAINS.get(spec.language)
    test_steps: list[dict] = [{"uses": "actions/checkout@v5"}]
    if setup is not None:
        test_steps.append({"uses": setup[0], "with": setup[1]})
    test_steps.append({"name": "Test", "run": "make test\n"})
    jobs: dict = {
        "test": {"runs-on": "ubuntu-latest", "steps": test_steps},
        "build": {
            "needs": "test",
            "runs-on": "ubuntu-latest",
            "outputs": {"digest": "${{ steps.push.outputs.digest }}"},
            "steps": [
                {"uses": "actions/checkout@v5"},
                {
                    "uses": "docker/login-action@v4",
                    "with": {
                        "registry": _registry(spec),
                        "username": "${{ secrets.REGISTRY_USERNAME }}",
                        "password": "${{ secrets.REGISTRY_PASSWORD }}",
                    },
                },
                {
                    "id": "push",
                    "uses": "docker/build-push-action@v7",
                    "with": {"push": True, "tags": "${{ env.IMAGE }}:${{ github.sha }}"},
                },
                {"uses": "sigstore/cosign-installer@v3"},
                python,
                install_runway,
                {
                    "name": "Sign the image and upload its evidence to Runway",
                    "env": {
                        "DIGEST": "${{ steps.push.outputs.digest }}",
                        "COSIGN_PRIVATE_KEY": "${{ secrets.COSIGN_PRIVATE_KEY }}",
                        "COSIGN_PASSWORD": "${{ secrets.COSIGN_PASSWORD }}",
                        **runway_env,
                    },
                    "run": _EVIDENCE + 'runway attest upload --digest "$DIGEST" evidence/*.json\n',
                },
            ],
        },
    }
    previous = "build"
    run_url = "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}"
    for environment in spec.environments:
        job = f"release-{environment}"
        jobs[job] = {
            "needs": [previous, "build"] if previous != "build" else "build",
            "runs-on": "ubuntu-latest",
            "environment": environment,
            "concurrency": {"group": f"runway-{environment}", "cancel-in-progress": False},
            "steps": [
                python,
                install_runway,
                {
                    "name": f"Release to {environment}",
                    "env": {
                        "DIGEST": "${{ needs.build.outputs.digest }}",
                        "RUN_URL": run_url,
                        **runway_env,
                    },
                    "run": _release_script(spec, environment, "$RUN_URL"),
                },
            ],
        }
        previous = job
    document = {
        "name": "runway",
        "on": {"push": {"branches": ["main"]}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "env": {
            TEMPLATE_ENV: spec.reference,
            "RUNWAY_SERVICE": spec.service,
            "RUNWAY_CLI": "${{ vars.RUNWAY_CLI }}",
            "IMAGE": spec.image,
        },
        "jobs": jobs,
    }
    return _dump(_header(spec), document)


# --- GitLab CI ------------------------------------------------------------------------------------


def gitlab_ci(spec: PipelineSpec) -> str:
    toolchain = _TOOLCHAINS.get(spec.language)
    runway_job = {
        "image": _RUNWAY_IMAGE,
        "before_script": [
            "apt-get update -qq && apt-get install -y -qq jq >/dev/null",
            'pip install "$RUNWAY_CLI"',
        ],
    }
    document: dict = {
        "variables": {
            TEMPLATE_ENV: spec.reference,
            "RUNWAY_SERVICE": spec.service,
            "IMAGE": spec.image,
        },
        "stages": ["test", "build", "evidence", *(f"release-{env}" for env in spec.environments)],
        "test": {
            "stage": "test",
            "image": toolchain[2] if toolchain else "buildpack-deps:bookworm",
            "script": ["make test"],
        },
        "build": {
            "stage": "build",
            "image": "docker:27",
            "services": ["docker:27-dind"],
            "script": [
                'echo "$REGISTRY_PASSWORD" | docker login -u "$REGISTRY_USERNAME" '
                f"--password-stdin {_registry(spec)}",
                'docker build -t "$IMAGE:$CI_COMMIT_SHA" .',
                'docker push "$IMAGE:$CI_COMMIT_SHA"',
                'DIGEST=$(docker inspect --format "{{index .RepoDigests 0}}" '
                '"$IMAGE:$CI_COMMIT_SHA" | cut -d@ -f2)',
                'echo "DIGEST=$DIGEST" > build.env',
                "apk add --no-cache cosign jq",
                _EVIDENCE.rstrip("\n"),
            ],
            "artifacts": {"reports": {"dotenv": "build.env"}, "paths": ["evidence/"]},
        },
        "evidence": {
            "stage": "evidence",
            **runway_job,
            "needs": ["build"],
            "script": ['runway attest upload --digest "$DIGEST" evidence/*.json'],
        },
    }
    previous = "evidence"
    for environment in spec.environments:
        job = f"release-{environment}"
        document[job] = {
            "stage": job,
            **runway_job,
            "needs": ["build", previous],
            "environment": {"name": environment},
            "resource_group": environment,
            "script": [_release_script(spec, environment, "$CI_JOB_URL").rstrip("\n")],
        }
        previous = job
    return _dump(_header(spec), document)

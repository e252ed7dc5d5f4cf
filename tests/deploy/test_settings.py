"""Every setting Runway reads reaches every process: from the ConfigMap, or for secrets from the
Secret `runway`, and the values the overlays give start Django in production mode."""

import ast
import json
import subprocess
import sys

import pytest

from tests.deploy.conftest import (
    ROOT,
    all_containers,
    container_environment,
    pod_spec,
    secret_example,
)

SECRET_SETTINGS = {
    "SECRET_KEY",
    "RUNWAY_ENCRYPTION_KEY",
    "RUNWAY_AUDIT_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "LIVE_UPDATES_REDIS_URL",
    "EMAIL_URL",
    "RELEASE_WEBHOOK_URL",
    "METRICS_TOKEN",
    "OIDC_CLIENT_SECRET",
    "GITHUB_CLIENT_SECRET",
    "GITLAB_CLIENT_SECRET",
}
# Settings refuse to start without these (or without a shared cache, for the sign-in throttle).
REQUIRED_SECRETS = {
    "SECRET_KEY",
    "RUNWAY_ENCRYPTION_KEY",
    "RUNWAY_AUDIT_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
}
# Read by the web process's command line (uvicorn's --forwarded-allow-ips), not by settings.
COMMAND_LINE_SETTINGS = {"TRUSTED_PROXIES"}


def settings_variables() -> set[str]:
    """Every variable portal/settings.py reads through portal/env.py's readers."""
    tree = ast.parse((ROOT / "portal" / "settings.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def test_the_settings_parse_finds_the_variables():
    found = settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "PORT", "GITLAB_URL"} <= found
    assert len(found) > 40


def test_config_and_secret_together_name_exactly_what_settings_read(rendered):
    config = set(rendered.get("ConfigMap", "runway-config")["data"])
    assert config & SECRET_SETTINGS == set(), "secrets belong in the Secret"
    assert config | SECRET_SETTINGS == settings_variables() | COMMAND_LINE_SETTINGS
    assert set(secret_example()["stringData"]) == SECRET_SETTINGS


def test_every_runway_process_sees_every_setting(rendered):
    config = rendered.get("ConfigMap", "runway-config")
    for deployment in rendered.of_kind("Deployment"):
        for container in all_containers(deployment):
            names = {e["name"] for e in container.get("env", [])}
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] == config["metadata"]["name"]
                names |= set(config["data"])
            missing = settings_variables() - names
            assert missing == set(), f"{deployment['metadata']['name']}/{container['name']}"


def test_secrets_come_from_the_secret_by_their_own_name(rendered):
    for workload in rendered.workloads():
        for container in all_containers(workload):
            for entry in container.get("env", []):
                if entry["name"] not in SECRET_SETTINGS:
                    continue
                reference = entry["valueFrom"]["secretKeyRef"]
                assert (reference["name"], reference["key"]) == ("runway", entry["name"])
                assert reference.get("optional", False) == (entry["name"] not in REQUIRED_SECRETS)
            secrets = {e["name"] for e in container.get("env", []) if "valueFrom" in e}
            assert secrets >= REQUIRED_SECRETS, workload["metadata"]["name"]


WHAT_DJANGO_SEES = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'ssl': s.SECURE_SSL_REDIRECT, "
    "'proxy': s.SECURE_PROXY_SSL_HEADER, 'mfa': s.MFA_REQUIRED_ROLES, "
    "'queue': s.CELERY_TASK_DEFAULT_QUEUE, 'engine': s.DATABASES['default']['ENGINE'], "
    "'pool': s.DATABASES['default'].get('OPTIONS', {}).get('pool', {}).get('max_size'), "
    "'checkpoints': str(s.AUDIT_CHECKPOINT_FILE)}))"
)


@pytest.mark.parametrize("workload", ["Deployment/runway-web", "Deployment/runway-worker-default"])
def test_the_rendered_environment_starts_django_in_production_mode(small, workload):
    kind, name = workload.split("/")
    container = pod_spec(small.get(kind, name))["containers"][0]
    config = small.get("ConfigMap", "runway-config")["data"]
    env = container_environment(container, config, secret_example()["stringData"], "10.1.2.3")
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    result = subprocess.run(
        [sys.executable, "-c", WHAT_DJANGO_SEES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["debug"] is False
    assert seen["ssl"] is True
    assert seen["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert seen["mfa"] == ["release_manager", "platform_admin"]
    assert seen["queue"] == config["CELERY_QUEUE"]
    assert seen["engine"] == "django.db.backends.postgresql"
    assert seen["checkpoints"] == "/var/lib/runway-audit/checkpoints.jsonl"
    if name == "runway-web":
        # The kubelet's probes, addressed to the pod's IP, are answered.
        assert seen["hosts"] == ["runway.example.com", "10.1.2.3"]
        assert seen["pool"] == 10
    else:
        assert seen["hosts"] == ["runway.example.com"]
        assert seen["pool"] is None


def test_the_migration_job_passes_djangos_deployment_checks(small):
    container = pod_spec(small.get("Job", "runway-migrate"))["containers"][0]
    config = small.get("ConfigMap", "runway-config")["data"]
    env = container_environment(container, config, secret_example()["stringData"], "10.1.2.3")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

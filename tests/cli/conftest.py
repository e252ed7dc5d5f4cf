"""The `runway` command as a pipeline runs it: a process of its own, configured by RUNWAY_URL and
RUNWAY_TOKEN, against Runway served by a live test server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.accounts import services as account_services

ROOT = Path(__file__).resolve().parents[2]


def cli_env(url: str, token: str, config: Path, **extra: str) -> dict:
    return {
        **os.environ,
        "RUNWAY_URL": url,
        "RUNWAY_TOKEN": token,
        "RUNWAY_CONFIG": str(config),
        "RUNWAY_POLL_INTERVAL": "0.2",
        "RUNWAY_RETRIES": "1",
        **extra,
    }


@pytest.fixture
def token_of(platform_admin):
    def issue(user) -> str:
        if user.is_service_account:
            return account_services.service_account_token_issue(
                actor=platform_admin, account=user, name="pipeline"
            )[1]
        return account_services.api_token_create(actor=user, name="pipeline")[1]

    return issue


@pytest.fixture
def runway(live_server, token_of, tmp_path):
    """runway(user, *args) runs the command as `user` and returns the finished process;
    runway.start(...) returns it running."""

    def command(user, args, env):
        token = token_of(user) if user is not None else ""
        return (
            [sys.executable, "-m", "cli", *args],
            cli_env(live_server.url, token, tmp_path / "config.json", **(env or {})),
        )

    def run(user, *args, env=None, timeout=60):
        argv, environment = command(user, args, env)
        return subprocess.run(
            argv, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout
        )

    def start(user, *args, env=None):
        argv, environment = command(user, args, env)
        return subprocess.Popen(
            argv, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    run.start = start
    run.url = live_server.url
    return run

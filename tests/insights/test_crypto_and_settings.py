"""Webhook secrets are encrypted with a key from the environment; production refuses to start
without one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from apps.insights import crypto

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET_KEY = "k" * 20 + "-production-secret-key-0123456789abcdef"


def test_a_secret_survives_encryption_and_is_not_readable_in_the_database_value():
    token = crypto.encrypt("gh-webhook-secret")
    assert "gh-webhook-secret" not in token
    assert crypto.decrypt(token) == "gh-webhook-secret"


def test_another_key_cannot_read_it():
    token = crypto.encrypt("gh-webhook-secret")
    with (
        override_settings(RUNWAY_ENCRYPTION_KEY="another-key-of-at-least-32-characters!!"),
        pytest.raises(crypto.SecretUnreadable),
    ):
        crypto.decrypt(token)


def test_a_new_key_in_front_reads_old_secrets_and_re_encrypts_them():
    old_key = "old-key-of-at-least-thirty-two-characters"
    new_key = "new-key-of-at-least-thirty-two-characters"
    with override_settings(RUNWAY_ENCRYPTION_KEY=old_key):
        token = crypto.encrypt("s3cret")
    with override_settings(RUNWAY_ENCRYPTION_KEY=f"{new_key},{old_key}"):
        assert crypto.decrypt(token) == "s3cret"
        rekeyed = crypto.reencrypt(token)
    with override_settings(RUNWAY_ENCRYPTION_KEY=new_key):
        assert crypto.decrypt(rekeyed) == "s3cret"


# --- Start-up in production mode --------------------------------------------------------------


def start_django(**overrides) -> subprocess.CompletedProcess:
    """A fresh process in production mode, outside pytest's session (PYTEST_VERSION unset)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECRET_KEY", "DEBUG", "RUNWAY_ENCRYPTION_KEY", "PYTEST_VERSION"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="0",
        SECRET_KEY=STRONG_SECRET_KEY,
        ALLOWED_HOSTS="runway.example.com",
        DATABASE_URL="sqlite:////tmp/unused.sqlite3",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_mode_without_an_encryption_key_fails_naming_it():
    result = start_django()
    assert result.returncode != 0
    assert "RUNWAY_ENCRYPTION_KEY must be set" in result.stderr


def test_production_mode_refuses_a_short_encryption_key():
    result = start_django(RUNWAY_ENCRYPTION_KEY="short")
    assert result.returncode != 0
    assert "RUNWAY_ENCRYPTION_KEY is too weak" in result.stderr


def test_production_mode_starts_with_an_encryption_key():
    result = start_django(RUNWAY_ENCRYPTION_KEY="x" * 44)
    assert result.returncode == 0, result.stderr


def test_development_mode_derives_a_key_from_the_secret_key():
    result = start_django(DEBUG="1", SECRET_KEY=None)
    assert result.returncode == 0, result.stderr

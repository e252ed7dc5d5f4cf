"""Settings come from the environment; bad values stop start-up with the variable's name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import env

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 20 + "-production-secret-key-0123456789abcdef"


def clean_environ() -> dict:
    """This process's environment without the settings each test decides for itself."""
    dropped = ("SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


def run_django(code: str, **overrides) -> subprocess.CompletedProcess:
    base = clean_environ()
    base.update({"DJANGO_SETTINGS_MODULE": "portal.settings"}, **overrides)
    base = {k: v for k, v in base.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env(tmp_path, **extra):
    return {
        "DEBUG": "0",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "runway.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://runway.example.com",
        "RUNWAY_ENCRYPTION_KEY": "production-encryption-key-0123456789abcdef",
        "RUNWAY_AUDIT_KEY": "2026-12:production-audit-key-0123456789abcdefgh",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "SECURE_SSL_REDIRECT": None,
        "SESSION_COOKIE_SECURE": None,
        "CSRF_COOKIE_SECURE": None,
        "SECURE_HSTS_SECONDS": None,
        **extra,
    }


def test_env_bool_rejects_a_value_it_cannot_read(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env.env_bool("SOME_FLAG", False)


def test_env_int_names_the_variable(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be a whole number"):
        env.env_int("SOME_NUMBER", 1)


@pytest.mark.parametrize(("value", "problem"), [("0", "at least 1"), ("301", "at most 300")])
def test_env_int_keeps_to_its_bounds(monkeypatch, value, problem):
    monkeypatch.setenv("SOME_NUMBER", value)
    with pytest.raises(ImproperlyConfigured, match=f"SOME_NUMBER must be {problem}, got {value}"):
        env.env_int("SOME_NUMBER", 60, minimum=1, maximum=300)
    monkeypatch.setenv("SOME_NUMBER", "300")
    assert env.env_int("SOME_NUMBER", 60, minimum=1, maximum=300) == 300


def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-the-file\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env.env_str("SOME_SECRET") == "from-the-file"


def test_an_unreadable_secret_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET_FILE"):
        env.env_str("SOME_SECRET")


def test_an_unknown_time_zone_is_refused(monkeypatch):
    monkeypatch.setenv("TIME_ZONE", "Mars/Olympus")
    with pytest.raises(ImproperlyConfigured, match="TIME_ZONE"):
        env.env_time_zone("TIME_ZONE", "UTC")


def test_production_mode_without_secret_key_fails_naming_it(tmp_path):
    result = run_django("", **production_env(tmp_path, SECRET_KEY=None))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_mode_refuses_a_weak_secret_key(tmp_path):
    result = run_django("", **production_env(tmp_path, SECRET_KEY="short"))
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_production_mode_without_an_encryption_key_fails_naming_it(tmp_path):
    result = run_django("", **production_env(tmp_path, RUNWAY_ENCRYPTION_KEY=None))
    assert result.returncode != 0
    assert "RUNWAY_ENCRYPTION_KEY must be set" in result.stderr


def test_production_mode_without_an_audit_key_fails_naming_it(tmp_path):
    result = run_django("", **production_env(tmp_path, RUNWAY_AUDIT_KEY=None))
    assert result.returncode != 0
    assert "RUNWAY_AUDIT_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no-id-here-0123456789abcdefghijklmnopqrstuvwxyz", "must be id:secret pairs"),
        ("k1:short", "key 'k1' is too weak"),
        ("k1:" + "a" * 40 + ",k1:" + "b" * 40, "key id 'k1' is listed twice"),
    ],
)
def test_a_bad_audit_keyring_names_the_variable(monkeypatch, value, message):
    monkeypatch.setenv("SOME_KEYS", value)
    with pytest.raises(ImproperlyConfigured, match=f"SOME_KEYS.*{message}"):
        env.env_keyring("SOME_KEYS", min_length=32)


def test_the_first_audit_key_signs_and_every_key_verifies(monkeypatch, tmp_path):
    keys = tmp_path / "audit-keys"
    keys.write_text("2027-01:" + "n" * 40 + "\n2026-12:" + "o" * 40 + "\n")
    monkeypatch.setenv("SOME_KEYS_FILE", str(keys))
    current, ring = env.env_keyring("SOME_KEYS", min_length=32)
    assert current == "2027-01"
    assert ring == {"2027-01": b"n" * 40, "2026-12": b"o" * 40}


def test_production_mode_without_allowed_hosts_fails_naming_it(tmp_path):
    result = run_django("", **production_env(tmp_path, ALLOWED_HOSTS=None))
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must name" in result.stderr


def test_a_malformed_database_url_is_named(tmp_path):
    result = run_django("", **production_env(tmp_path, DATABASE_URL="nosuchdb://x"))
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_secret_key_file_is_read_in_production(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(STRONG_KEY)
    check = f"print(settings.SECRET_KEY == open({str(key_file)!r}).read())"
    result = run_django(
        f"from django.conf import settings; {check}",
        **production_env(tmp_path, SECRET_KEY=None, SECRET_KEY_FILE=str(key_file)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_deploy_check_is_clean_with_production_values(tmp_path):
    env_vars = production_env(tmp_path)
    base = clean_environ()
    base.update({k: v for k, v in env_vars.items() if v is not None})
    for unset in [k for k, v in env_vars.items() if v is None]:
        base.pop(unset, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PG_URL = "postgres://postgres@127.0.0.1:5432/runway_pool_check"
READ_POOL = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS'))"


def test_a_pool_size_gives_postgresql_a_connection_pool(tmp_path):
    result = run_django(
        READ_POOL, **production_env(tmp_path, DATABASE_URL=PG_URL, DATABASE_POOL_SIZE="10")
    )
    assert result.returncode == 0, result.stderr
    assert "'pool': {'min_size': 1, 'max_size': 10, 'timeout': 10}" in result.stdout


def test_without_a_pool_size_each_request_opens_its_connection(tmp_path):
    result = run_django(READ_POOL, **production_env(tmp_path, DATABASE_URL=PG_URL))
    assert result.returncode == 0, result.stderr
    assert "pool" not in result.stdout


def test_a_pool_and_persistent_connections_are_refused_together(tmp_path):
    env = production_env(
        tmp_path, DATABASE_URL=PG_URL, DATABASE_POOL_SIZE="10", DATABASE_CONN_MAX_AGE="60"
    )
    result = run_django("", **env)
    assert result.returncode != 0
    assert "DATABASE_POOL_SIZE" in result.stderr and "DATABASE_CONN_MAX_AGE" in result.stderr


READ_BASE_URL = "from django.conf import settings; print(settings.RUNWAY_BASE_URL)"


def test_the_base_url_follows_the_port_unless_it_is_set(tmp_path):
    database = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    on_9000 = run_django(
        READ_BASE_URL, DEBUG="1", PORT="9000", RUNWAY_BASE_URL=None, DATABASE_URL=database
    )
    assert on_9000.stdout.strip() == "http://127.0.0.1:9000", on_9000.stderr
    given = run_django(
        READ_BASE_URL,
        DEBUG="1",
        PORT="9000",
        RUNWAY_BASE_URL="https://runway.example.com",
        DATABASE_URL=database,
    )
    assert given.stdout.strip() == "https://runway.example.com", given.stderr


REPORT_BASE_URL = """
import sys, time
from pathlib import Path
import django
django.setup()
from django.conf import settings
here = Path(sys.argv[1])
(here / sys.argv[2]).write_text(settings.RUNWAY_BASE_URL)
deadline = time.monotonic() + 60
while len(list(here.glob("*.url"))) < 2 and time.monotonic() < deadline:
    time.sleep(0.1)  # honcho stops every process once one ends: wait for the other's answer
"""


def test_every_process_make_run_starts_links_to_the_web_port(tmp_path):
    """honcho gives each process its own PORT (the worker's is 100 more); the worker's
    notifications must still link to where the web process listens."""
    script = tmp_path / "report.py"
    script.write_text(REPORT_BASE_URL)
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f"web: python {script} {tmp_path} web.url\nworker: python {script} {tmp_path} worker.url\n"
    )
    environ = clean_environ()
    environ.pop("RUNWAY_BASE_URL", None)
    environ.pop("PORT", None)
    environ.update(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}")
    result = subprocess.run(
        ["make", "-s", "processes", f"PROCFILE={procfile}", "PORT=9123"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    urls = {path.name: path.read_text() for path in tmp_path.glob("*.url")}
    assert urls == {
        "web.url": "http://127.0.0.1:9123",
        "worker.url": "http://127.0.0.1:9123",
    }, result.stdout + result.stderr

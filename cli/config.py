"""Where Runway is and who is asking: options, then RUNWAY_URL / RUNWAY_TOKEN, then the file
`runway login` writes (readable by its owner only, as ssh keeps its keys)."""

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cli.exits import USAGE, CliError


def config_path() -> Path:
    if os.environ.get("RUNWAY_CONFIG"):
        return Path(os.environ["RUNWAY_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "runway" / "config.json"


@dataclass(frozen=True)
class Settings:
    url: str
    token: str


def load(*, url: str | None, token: str | None, need_token: bool = True) -> Settings:
    stored = _read(config_path())
    url = url or os.environ.get("RUNWAY_URL") or stored.get("url", "")
    token = token or os.environ.get("RUNWAY_TOKEN") or stored.get("token", "")
    if not url:
        raise CliError(USAGE, "Where is Runway? Set RUNWAY_URL or run `runway login`.")
    if not url.startswith(("http://", "https://")):
        raise CliError(USAGE, f"RUNWAY_URL must start with http:// or https://, not {url!r}.")
    if not token and need_token:
        raise CliError(USAGE, "No API token: set RUNWAY_TOKEN or run `runway login`.")
    return Settings(url=url.rstrip("/"), token=token)


def save(settings: Settings) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 rather than chmod-ed after: the token is never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"url": settings.url, "token": settings.token}, file)
    os.chmod(path, 0o600)  # a file that existed keeps its mode through O_CREAT
    return path


def _read(path: Path) -> dict:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CliError(USAGE, f"{path} is readable by others: chmod 600 {path}")
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(USAGE, f"{path} is not a runway configuration: {exc}") from None
    return stored if isinstance(stored, dict) else {}

"""The `runway` command. Each command reads or acts through Runway's public API (cli/client.py)
and ends with an exit code from cli/exits.py; `--output json` prints the final object as JSON on
standard output (progress then goes to standard error)."""

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from cli import config, exits
from cli.client import Client, Refused
from cli.events import send_deployment
from cli.exits import CliError
from cli.progress import Progress
from cli.waiting import (
    RELEASE_OUTCOMES,
    ROLLOUT_OUTCOMES,
    TRAIN_OUTCOMES,
    Waiter,
    parse_duration,
    release_line,
    rollout_line,
)

OUTPUT = click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the final object on standard output, for machines.",
)
TIMEOUT = click.option(
    "--timeout", default="30m", show_default=True, help="How long to wait: 90s, 30m, 1h30m."
)
MAX_GIT_COMMITS = 500
CHECK_STATUSES = {
    "success": "passed",
    "passed": "passed",
    "failure": "failed",
    "failed": "failed",
    "pending": "pending",
}


class Context:
    def __init__(self, url: str | None, token: str | None, retries: int, interval: float):
        self._url, self._token, self.retries, self.interval = url, token, retries, interval
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            settings = config.load(url=self._url, token=self._token)
            self._client = Client(settings, retries=self.retries)
        return self._client

    def tokenless_client(self) -> Client:
        """For webhooks, which carry their own credential."""
        settings = config.load(url=self._url, token=self._token, need_token=False)
        return Client(settings, retries=self.retries)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="RUNWAY_URL", help="Runway's address (or RUNWAY_URL).")
@click.option("--token", envvar="RUNWAY_TOKEN", help="A personal API token (or RUNWAY_TOKEN).")
@click.option(
    "--retries",
    envvar="RUNWAY_RETRIES",
    type=click.IntRange(0, 10),
    default=4,
    show_default=True,
    help="Tries again after connection errors and 5xx, with back-off, where it is safe to.",
)
@click.option(
    "--poll-interval",
    envvar="RUNWAY_POLL_INTERVAL",
    type=click.FloatRange(0.1, 60),
    default=2.0,
    show_default=True,
    help="Seconds between looks while waiting.",
)
@click.pass_context
def cli(ctx, url, token, retries, poll_interval):
    """Runway from CI: request releases, wait for them, report checks and evidence.

    Exit codes: 0 succeeded, 1 usage or configuration, 2 refused (policy, window, freeze),
    3 rejected, 4 failed or rolled back, 5 timed out, 6 authentication or permission,
    7 Runway unreachable."""
    ctx.obj = Context(url, token, retries, poll_interval)


# --- login ------------------------------------------------------------------------------------


@cli.command()
@click.option("--url", "login_url", required=True, envvar="RUNWAY_URL", help="Runway's address.")
@click.option("--token-stdin", is_flag=True, help="Read the token from standard input.")
@click.pass_obj
def login(obj: Context, login_url: str, token_stdin: bool):
    """Keep Runway's address and your token in a file only you can read."""
    token = (
        sys.stdin.readline().strip()
        if token_stdin
        else click.prompt("API token (from your profile page)", hide_input=True)
    )
    settings = config.Settings(url=login_url.rstrip("/"), token=token)
    me = Client(settings, retries=obj.retries).get("/api/v1/me/")
    path = config.save(settings)
    click.echo(f"Signed in to {settings.url} as {me.get('username')}; saved in {path}.")


# --- releases ---------------------------------------------------------------------------------


@cli.group()
def release():
    """Request, follow and decide on releases."""


@release.command("create")
@click.option("--service", required=True, help="The service's catalog name.")
@click.option("--env", "environment", required=True, help="One of the service's environments.")
@click.option("--image", required=True, help="The image: repo:tag, repo@sha256:… or both.")
@click.option("--digest", default="", help="sha256:… when --image is a tag: pins what ships.")
@click.option("--title", default="", help="Defaults to “<service> <image>”.")
@click.option("--description", default="")
@click.option(
    "--change-type",
    type=click.Choice(["standard", "normal", "emergency"]),
    default="normal",
    show_default=True,
)
@click.option("--template", type=int, help="Standard changes: the pre-approved template's id.")
@click.option("--justification", default="", help="Emergency changes: why it cannot wait.")
@click.option("--commits-from-git", "git_range", help="A git range, e.g. v1.2.0..HEAD.")
@click.option("--start", help="Planned start, ISO 8601 with an offset (default: now).")
@click.option("--duration", default="1h", show_default=True, help="Planned length.")
@click.option("--submit", is_flag=True, help="Submit it for approval at once.")
@click.option("--wait", is_flag=True, help="Wait until it has succeeded, failed or been rejected.")
@TIMEOUT
@click.option("--cancel-on-timeout", is_flag=True, help="Cancel the release if --timeout runs out.")
@click.option(
    "--idempotency-key",
    envvar="RUNWAY_IDEMPOTENCY_KEY",
    help="Send the same key again to get the same release (default: one per invocation).",
)
@click.option(
    "--pipeline-template",
    envvar="RUNWAY_PIPELINE_TEMPLATE",
    default="",
    help="The standard pipeline asking, <template>@<version> (or RUNWAY_PIPELINE_TEMPLATE, "
    "which Runway's generated pipelines set): Runway records it on the service.",
)
@OUTPUT
@click.pass_obj
def release_create(obj: Context, **options):
    """Request a release of an image to an environment."""
    out = Out(options["output"])
    body = _release_body(options)
    key = options["idempotency_key"] or str(uuid.uuid4())
    try:
        created = obj.client.post("/api/v1/releases/", body, idempotency_key=key)
    except Refused as exc:
        raise _refusal(exc) from None
    out.say(f"Release #{created['id']} {created['state'].replace('_', ' ')}: {_page(obj, created)}")
    if not options["wait"]:
        return out.done(created, exits.SUCCEEDED)
    if created["state"] == "draft":
        raise CliError(exits.USAGE, "--wait needs --submit: a draft waits for nobody.")
    return _wait_release(obj, out, created["id"], options)


@release.command("wait")
@click.argument("release_id", type=int)
@TIMEOUT
@click.option("--cancel-on-timeout", is_flag=True)
@OUTPUT
@click.pass_obj
def release_wait(obj: Context, release_id: int, **options):
    """Wait for a release to succeed (0), be rejected (3) or fail (4)."""
    _wait_release(obj, Out(options["output"]), release_id, options)


@release.command("show")
@click.argument("release_id", type=int)
@OUTPUT
@click.pass_obj
def release_show(obj: Context, release_id: int, output: str):
    """A release as Runway sees it now."""
    out = Out(output)
    found = _get(obj, f"/api/v1/releases/{release_id}/")
    out.say(release_line(found))
    out.say(f"  {found['service']} → {found['environment']}: {found['version']}")
    for gate in found.get("gates", []):
        mark = "ok" if gate.get("passed") else "waiting" if not gate.get("blocking") else "no"
        out.say(f"  [{mark}] {gate['name']}: {gate.get('detail', '')}")
    out.say(f"  {_page(obj, found)}")
    out.done(found, exits.SUCCEEDED)


@release.command("approve")
@click.argument("release_id", type=int)
@click.option("--comment", default="")
@click.option("--confirm-risks", is_flag=True, help="Approve although gates fail now.")
@OUTPUT
@click.pass_obj
def release_approve(obj: Context, release_id: int, comment: str, confirm_risks: bool, output):
    """Approve a release (as a release manager)."""
    body = {"comment": comment, "confirm_risks": confirm_risks}
    _decide(obj, Out(output), release_id, "approve", body)


@release.command("reject")
@click.argument("release_id", type=int)
@click.option("--comment", required=True, help="Why: the requester needs to know.")
@OUTPUT
@click.pass_obj
def release_reject(obj: Context, release_id: int, comment: str, output):
    """Reject a release, saying why."""
    _decide(obj, Out(output), release_id, "reject", {"comment": comment})


def _decide(obj: Context, out: "Out", release_id: int, action: str, body: dict) -> None:
    try:
        decided = obj.client.post(f"/api/v1/releases/{release_id}/{action}/", body)
    except Refused as exc:
        raise _refusal(exc) from None
    out.say(release_line(decided))
    out.done(decided, exits.SUCCEEDED)


def _release_body(options: dict) -> dict:
    image, digest = options["image"].strip(), options["digest"].strip()
    if digest:
        if not digest.startswith("sha256:"):
            raise CliError(exits.USAGE, "--digest must be sha256:<64 hex>.")
        if "@" in image and image.split("@", 1)[1] != digest:
            raise CliError(exits.USAGE, "--image names another digest than --digest.")
        if "@" not in image:
            image = f"{image}@{digest}"
    start, end = _planned(options)
    body = {
        "service": options["service"],
        "environment": options["environment"],
        "version": image,
        "title": options["title"] or f"{options['service']} {image}"[:200],
        "description": options["description"],
        "change_type": options["change_type"],
        "justification": options["justification"],
        "planned_start": start,
        "planned_end": end,
        "submit": options["submit"],
        "commits": _git_commits(options["git_range"]) if options["git_range"] else [],
    }
    if options["template"] is not None:
        body["standard_template"] = options["template"]
    if options["pipeline_template"].strip():
        body["pipeline_template"] = options["pipeline_template"].strip()
    return body


def _planned(options: dict) -> tuple[str, str]:
    """--start (default now) and --duration as the planned start and end."""
    try:
        start = datetime.fromisoformat(options["start"]) if options["start"] else _now()
        length = timedelta(seconds=parse_duration(options["duration"]))
    except ValueError as exc:
        raise CliError(exits.USAGE, f"--start/--duration: {exc}") from None
    if start.tzinfo is None:
        raise CliError(exits.USAGE, "--start needs a UTC offset, e.g. 2026-12-01T09:00+00:00.")
    return start.isoformat(), (start + length).isoformat()


def _git_commits(git_range: str) -> list[dict]:
    """The range's commits as Runway records them, newest first (for separation of duties and
    the DORA lead time)."""
    if git_range.startswith("-"):
        raise CliError(exits.USAGE, f"--commits-from-git: {git_range!r} is not a range.")
    command = [
        "git", "log", "--no-merges", f"--max-count={MAX_GIT_COMMITS}",
        "--format=%H%x1f%an <%ae>%x1f%aI%x1f%s%x1e", git_range, "--",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise CliError(exits.USAGE, f"--commits-from-git: git log failed: {detail}") from None
    commits = []
    for record in done.stdout.split("\x1e"):
        fields = record.strip("\n").split("\x1f")
        if len(fields) == 4:
            sha, author, timestamp, message = fields
            commits.append(
                {"sha": sha, "author": author[:200], "timestamp": timestamp, "message": message}
            )
    return commits


def _wait_release(obj: Context, out: "Out", release_id: int, options: dict) -> None:
    path = f"/api/v1/releases/{release_id}/"
    shown: dict[str, str] = {}

    def show(current: dict) -> None:
        out.once(shown, "release", release_line(current))
        if current["state"] in ("in_progress", "failed", "rolled_back", "succeeded"):
            rollouts = obj.client.get("/api/v1/rollouts/", {"release": release_id})
            for rollout in rollouts.get("results", []):
                out.once(shown, f"rollout {rollout['id']}", rollout_line(rollout))

    def cancel() -> None:
        if options.get("cancel_on_timeout"):
            reason = f"runway: not finished within {options['timeout']}"
            obj.client.post(f"/api/v1/releases/{release_id}/cancel/", {"reason": reason})
            out.say(f"release #{release_id}: cancelled ({reason})")

    waiter = _waiter(obj, options["timeout"], on_timeout=cancel)
    code, final = waiter.until_final(path, RELEASE_OUTCOMES, show)
    out.done(final, code)


# --- rollouts ---------------------------------------------------------------------------------


@cli.group()
def rollout():
    """Follow rollouts."""


@rollout.command("follow")
@click.argument("rollout_id", type=int)
@TIMEOUT
@click.option("--plain", is_flag=True, help="A line per change, even on a terminal.")
@OUTPUT
@click.pass_obj
def rollout_follow(obj: Context, rollout_id: int, timeout: str, plain: bool, output: str):
    """Follow a rollout to its end: 0 succeeded, 4 failed, rolled back or aborted."""
    out = Out(output)
    progress = Progress(out.stream, live=out.stream.isatty() and not plain)
    waiter = _waiter(obj, timeout, on_timeout=progress.close)
    try:
        code, final = waiter.until_final(
            f"/api/v1/rollouts/{rollout_id}/", ROLLOUT_OUTCOMES, progress.show
        )
    finally:
        progress.close()
    out.done(final, code)


# --- checks, evidence, deployments --------------------------------------------------------------


@cli.group()
def check():
    """Report CI checks on a release."""


@check.command("report")
@click.option("--release", "release_id", type=int, required=True)
@click.option("--name", required=True, help="e.g. tests, security-scan.")
@click.option(
    "--status",
    required=True,
    type=click.Choice(sorted(CHECK_STATUSES)),
    help="The check's result, in CI's words or Runway's.",
)
@click.option("--url", "details_url", default="", help="Where to read the details.")
@click.option("--summary", default="")
@OUTPUT
@click.pass_obj
def check_report(obj: Context, release_id: int, output: str, **body):
    """Report a check (latest report wins): a CI service account of the owning team."""
    out = Out(output)
    body["status"] = CHECK_STATUSES[body["status"]]
    try:
        reported = obj.client.post(f"/api/v1/releases/{release_id}/checks/", body)
    except Refused as exc:
        raise _refusal(exc) from None
    out.say(f"release #{release_id}: check {reported['name']} {reported['status']}")
    out.done(reported, exits.SUCCEEDED)


@cli.group()
def attest():
    """Upload signatures and attestations for an image digest."""


@attest.command("upload")
@click.option("--digest", required=True, help="sha256:<64 hex>, the image's digest.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@OUTPUT
@click.pass_obj
def attest_upload(obj: Context, digest: str, files: tuple[str, ...], output: str):
    """Upload DSSE envelopes or cosign signatures (JSON files), as they were written."""
    out = Out(output)
    uploaded = []
    for name in files:
        try:
            document = json.loads(Path(name).read_text())
        except (OSError, ValueError) as exc:
            raise CliError(exits.USAGE, f"{name}: not a JSON document: {exc}") from None
        try:
            # The server keeps a document once per digest: sending it again is harmless.
            stored = obj.client.post(
                f"/api/v1/artifacts/{digest}/attestations/",
                document,
                idempotency_key=str(uuid.uuid4()),
            )
        except Refused as exc:
            raise CliError(exc.code, f"{name}: {exc.message}", exc.body) from None
        uploaded.append(stored)
        out.say(f"{name}: {stored.get('kind', 'evidence')} stored for {digest}")
    out.done(uploaded, exits.SUCCEEDED)


@cli.command("deploy-event")
@click.option("--source", required=True, help="The webhook source's reference in Runway.")
@click.option(
    "--secret", envvar="RUNWAY_WEBHOOK_SECRET", required=True, help="(or RUNWAY_WEBHOOK_SECRET)"
)
@click.option("--service", required=True)
@click.option("--env", "environment", required=True)
@click.option("--version", required=True)
@click.option(
    "--status", type=click.Choice(["success", "failure", "in_progress"]), default="success"
)
@click.option("--started-at", required=True, help="ISO 8601 with an offset.")
@click.option("--finished-at", required=True, help="ISO 8601 with an offset.")
@click.option("--id", "deployment_id", help="The deployment's id in your tool.")
@OUTPUT
@click.pass_obj
def deploy_event(obj: Context, source: str, secret: str, output: str, **fields):
    """Report a deployment another tool made, for the DORA measures."""
    out = Out(output)
    receipt = send_deployment(obj, source=source, secret=secret, fields=fields)
    out.say(
        f"deployment of {fields['service']} {fields['version']}: {receipt.get('outcome', 'ok')}"
    )
    out.done(receipt, exits.SUCCEEDED)


# --- catalog and trains -------------------------------------------------------------------------


@cli.group()
def services():
    """The service catalog."""


@services.command("list")
@click.option("--team", default="", help="Only this team's services (its slug).")
@OUTPUT
@click.pass_obj
def services_list(obj: Context, team: str, output: str):
    out = Out(output)
    rows, page = [], 1
    while True:
        params = {"page_size": 500, "page": page, **({"owner": team} if team else {})}
        found = _get(obj, "/api/v1/services/", params)
        rows += found["results"]
        if not found.get("next"):
            break
        page += 1
    for service in rows:
        out.say(f"{service['name']:<40} {service.get('owner', '')}")
    out.done(rows, exits.SUCCEEDED)


@services.command("show")
@click.argument("name")
@OUTPUT
@click.pass_obj
def services_show(obj: Context, name: str, output: str):
    out = Out(output)
    found = _get(obj, f"/api/v1/services/{name}/")
    out.say(f"{found['name']} ({found.get('owner', '')}): {found.get('description', '')}")
    for environment in found.get("environments", []):
        out.say(f"  {environment['name']} ({environment.get('kind', '')})")
    out.done(found, exits.SUCCEEDED)


@cli.group()
def train():
    """Release several services together."""


@train.command("create")
@click.option("--name", required=True)
@click.option("--env", "environment", required=True)
@click.option("--member", "members", multiple=True, required=True, help="service=image, repeated.")
@click.option("--start", help="Planned start, ISO 8601 with an offset (default: now).")
@click.option("--duration", default="2h", show_default=True, help="Planned length.")
@click.option("--max-parallel", type=click.IntRange(1, 200), default=5, show_default=True)
@click.option("--rollback-policy", type=click.Choice(["leave", "reverse"]), default="leave")
@click.option("--submit", is_flag=True)
@click.option("--wait", is_flag=True)
@TIMEOUT
@click.option("--idempotency-key", envvar="RUNWAY_IDEMPOTENCY_KEY")
@OUTPUT
@click.pass_obj
def train_create(obj: Context, members: tuple[str, ...], output: str, **options):
    """Request a train: its members roll out in dependency order."""
    out = Out(output)
    parsed = []
    for member in members:
        service, _, version = member.partition("=")
        if not service or not version:
            raise CliError(exits.USAGE, f"--member {member!r}: give service=image.")
        parsed.append({"service": service, "version": version})
    start, end = _planned(options)
    body = {
        "name": options["name"],
        "environment": options["environment"],
        "planned_start": start,
        "planned_end": end,
        "members": parsed,
        "max_parallel": options["max_parallel"],
        "rollback_policy": options["rollback_policy"],
        "submit": options["submit"],
    }
    key = options["idempotency_key"] or str(uuid.uuid4())
    try:
        created = obj.client.post("/api/v1/trains/", body, idempotency_key=key)
    except Refused as exc:
        raise _refusal(exc) from None
    out.say(f"Train #{created['id']} {created['state']}: {len(parsed)} members")
    if not options["wait"]:
        return out.done(created, exits.SUCCEEDED)
    return _follow_train(obj, out, created["id"], options["timeout"])


@train.command("follow")
@click.argument("train_id", type=int)
@TIMEOUT
@OUTPUT
@click.pass_obj
def train_follow(obj: Context, train_id: int, timeout: str, output: str):
    """Follow a train to its end: 0 succeeded, 3 rejected, 4 halted, rolled back or cancelled."""
    _follow_train(obj, Out(output), train_id, timeout)


def _follow_train(obj: Context, out: "Out", train_id: int, timeout: str) -> None:
    shown: dict[str, str] = {}

    def show(current: dict) -> None:
        out.once(shown, "train", f"train #{current['id']}: {current['state'].replace('_', ' ')}")
        for member in current.get("members", []):
            line = f"  {member['service']} {member['version']}: {member['state']}"
            out.once(shown, f"member {member['service']}", line)

    code, final = _waiter(obj, timeout).until_final(
        f"/api/v1/trains/{train_id}/", TRAIN_OUTCOMES, show
    )
    out.done(final, code)


# --- shared -----------------------------------------------------------------------------------


class Out:
    """Text: progress and results on standard output. JSON: progress on standard error and the
    final object alone on standard output."""

    # Whether the command running answers in JSON: its error is then JSON too (see main).
    json_errors = False

    def __init__(self, output: str):
        self.json = output == "json"
        self.stream = sys.stderr if self.json else sys.stdout
        Out.json_errors = self.json

    def say(self, line: str) -> None:
        click.echo(line, file=self.stream)

    def once(self, shown: dict, key: str, line: str) -> None:
        if shown.get(key) != line:
            shown[key] = line
            self.say(line)

    def done(self, result: object, code: int) -> None:
        if self.json:
            click.echo(json.dumps(result, indent=2, sort_keys=True))
        if code:
            raise SystemExit(code)


def _waiter(obj: Context, timeout: str, on_timeout=None) -> Waiter:
    try:
        seconds = parse_duration(timeout)
    except ValueError as exc:
        raise CliError(exits.USAGE, f"--timeout: {exc}") from None
    return Waiter(obj.client, seconds, interval=obj.interval, on_timeout=on_timeout)


def _get(obj: Context, path: str, params: dict | None = None) -> dict:
    try:
        return obj.client.get(path, params)
    except Refused as exc:
        raise CliError(exits.USAGE, exc.message, exc.body) from None


def _refusal(exc: Refused) -> CliError:
    """A policy, window, freeze or version mark said no (Runway marks those answers): 2, with
    the reason; anything else Runway found wrong in the request: 1."""
    code = exits.REFUSED if exc.refused_by_policy else exits.USAGE
    return CliError(code, exc.message, exc.body)


def _page(obj: Context, found: dict) -> str:
    return obj.client.page_url(f"/releases/{found['id']}/")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def main() -> None:
    """Click's own usage errors exit 2, which here means refused: they exit 1 instead."""
    try:
        cli.main(prog_name="runway", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(exits.USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exits.USAGE)
    except CliError as exc:
        label = exits.MEANINGS[exc.code]
        click.echo(f"runway: {label}: {exc.message}", err=True)
        if Out.json_errors:
            click.echo(json.dumps({"error": exc.message, "exit_code": exc.code, "body": exc.body}))
        sys.exit(exc.code)

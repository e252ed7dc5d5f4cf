"""Waiting for a release, a rollout or a train to finish, saying what changes as it changes, and
ending with the exit code its outcome means. The clock and the sleep are passed in: the tests
run a thirty-minute wait in no time."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cli.client import Client
from cli.exits import FAILED, REJECTED, SUCCEEDED, TIMED_OUT, CliError

RELEASE_OUTCOMES = {
    "succeeded": SUCCEEDED,
    "rejected": REJECTED,
    "failed": FAILED,
    "rolled_back": FAILED,
    "cancelled": FAILED,
}
ROLLOUT_OUTCOMES = {
    "succeeded": SUCCEEDED,
    "failed": FAILED,
    "rolled_back": FAILED,
    "aborted": FAILED,
}
TRAIN_OUTCOMES = {
    "succeeded": SUCCEEDED,
    "rejected": REJECTED,
    "halted": FAILED,
    "rolled_back": FAILED,
    "cancelled": FAILED,
}


@dataclass
class Waiter:
    """Polls `path` until its `state` is one of `outcomes` or `timeout` seconds pass."""

    client: Client
    timeout: float
    interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    on_timeout: Callable[[], None] | None = None
    seen: dict = field(default_factory=dict)

    def until_final(
        self, path: str, outcomes: dict[str, int], show: Callable[[dict], None]
    ) -> tuple[int, dict]:
        deadline = self.clock() + self.timeout
        while True:
            current = self.client.get(path)
            show(current)
            if current.get("state") in outcomes:
                return outcomes[current["state"]], current
            left = deadline - self.clock()
            if left <= 0:
                if self.on_timeout:
                    self.on_timeout()
                waited = format_seconds(self.timeout)
                message = f"Timed out after {waited}: still {current.get('state')}."
                raise CliError(TIMED_OUT, message, current)
            self.sleep(min(self.interval, left))


def release_line(release: dict) -> str:
    line = f"release #{release['id']}: {release['state'].replace('_', ' ')}"
    if release.get("hold_reason"):
        line += f" (waiting: {release['hold_reason']})"
    if release["state"] == "pending_approval" and release.get("approval_status"):
        line += f" ({release['approval_status'].get('summary', '')})"
    if release["state"] == "rejected":
        reasons = [
            f"{approval['approver']}: {approval['comment']}"
            for approval in release.get("approvals", [])
            if approval.get("decision") == "reject" and not approval.get("invalidated_at")
        ]
        line += "".join(f"\n  rejected by {reason}" for reason in reasons)
    return line


def rollout_line(rollout: dict) -> str:
    steps = rollout.get("steps") or []
    line = f"rollout #{rollout['id']}: {rollout['state'].replace('_', ' ')} {rollout['progress']}%"
    if steps and rollout["state"] not in ROLLOUT_OUTCOMES:
        index = min(rollout.get("current_step") or 0, len(steps) - 1)
        step = steps[index]
        line += f", step {index + 1}/{len(steps)} {step['kind']} {step['state']}"
        if step.get("message"):
            line += f": {step['message']}"
    if rollout.get("failure_reason"):
        line += f" ({rollout['failure_reason']})"
    return line


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def parse_duration(text: str) -> float:
    """`90`, `90s`, `30m`, `2h`, `1h30m`."""
    units = {"h": 3600, "m": 60, "s": 1}
    total, number = 0.0, ""
    for char in text.strip().lower():
        if char.isdigit() or char == ".":
            number += char
        elif char in units and number:
            total += float(number) * units[char]
            number = ""
        else:
            raise ValueError(f"{text!r} is not a duration like 90s, 30m or 1h30m")
    if number:
        total += float(number)
    if total <= 0:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m or 1h30m")
    return total

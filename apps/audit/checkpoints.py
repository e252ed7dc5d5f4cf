"""Signed checkpoints of the audit chain's head (its last seal number and MAC), appended as JSON
lines to settings.AUDIT_CHECKPOINT_FILE. The file lives where the database's users cannot write,
so someone who removes the newest events and their seals still leaves a checkpoint that names
more of them than the log holds; `audit_verify` reports that."""

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from apps.audit.chain import UnknownKey, checkpoint_signature, macs_equal, signing_key_id
from apps.audit.models import AuditSeal

_TAIL_BYTES = 1024  # a checkpoint's line is about 250 bytes


@dataclass(frozen=True)
class Checkpoint:
    line: int
    seq: int
    mac: str
    at: str
    key_id: str
    signature: str

    def as_dict(self) -> dict:
        return {
            "seq": self.seq,
            "mac": self.mac,
            "at": self.at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @property
    def signed(self) -> bool:
        try:
            return macs_equal(checkpoint_signature(self.as_dict()), self.signature)
        except UnknownKey:
            return False


class UnreadableCheckpoint(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(f"checkpoint line {line} is unreadable: {reason}")
        self.line = line


def _parse(line_number: int, text: str) -> Checkpoint:
    try:
        data = json.loads(text)
        return Checkpoint(
            line=line_number,
            seq=int(data["seq"]),
            mac=str(data["mac"]),
            at=str(data["at"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UnreadableCheckpoint(line_number, str(exc)[:80]) from None


def read_checkpoints(path: Path | None = None) -> list[Checkpoint]:
    """Every checkpoint in the file, oldest first; none if there is no file yet."""
    path = Path(path or settings.AUDIT_CHECKPOINT_FILE)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [_parse(number, text) for number, text in enumerate(lines, 1) if text.strip()]


def recent_checkpoints(limit: int = 10, path: Path | None = None) -> list[Checkpoint]:
    """The file's last checkpoints, newest first, read from its tail so the cost does not grow
    with the file. A line that does not parse is left out here; audit_verify reports it."""
    path = Path(path or settings.AUDIT_CHECKPOINT_FILE)
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL_BYTES * limit)
            file.seek(start)
            tail = file.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    if start:
        tail = tail[1:]  # the first line read may be cut
    found: list[Checkpoint] = []
    for text in reversed(tail):
        if len(found) == limit:
            break
        try:
            found.append(_parse(0, text))
        except UnreadableCheckpoint:
            continue
    return found


def latest_checkpoint(path: Path | None = None) -> Checkpoint | None:
    recent = recent_checkpoints(1, path)
    return recent[0] if recent else None


def checkpoint_matches(checkpoints: list[Checkpoint]) -> dict[int, bool]:
    """For each checkpoint's seq, whether the chain still holds the seal it signed."""
    macs = dict(
        AuditSeal.objects.filter(seq__in={c.seq for c in checkpoints}).values_list("seq", "mac")
    )
    return {c.seq: macs_equal(macs.get(c.seq, ""), c.mac) for c in checkpoints}


def audit_checkpoint() -> Checkpoint | None:
    """Sign the chain's head and append it to the checkpoint file, unless the last checkpoint
    already names it. Returns the checkpoint that covers the head (None for an empty log)."""
    head = AuditSeal.objects.order_by("-seq").only("seq", "mac").first()
    if head is None:
        return None
    last = latest_checkpoint()
    if last is not None and last.seq == head.seq and last.mac == head.mac:
        return last
    content = {
        "seq": head.seq,
        "mac": head.mac,
        "at": timezone.now().isoformat(timespec="seconds"),
        "key_id": signing_key_id(),
    }
    content["signature"] = checkpoint_signature(content)
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # the web and the workers append to one file
        file.write(json.dumps(content, sort_keys=True) + "\n")
        file.flush()
        os.fsync(file.fileno())
    return Checkpoint(line=0, **content)

"""The audit chain's arithmetic. Each seal's MAC covers its event's content, its number and the
MAC before it, keyed with a secret kept outside the database (settings.AUDIT_KEYS): altering,
inserting, reordering or removing an event breaks every MAC after it, and someone who can write
the table cannot compute new ones. Checkpoints sign the chain's head the same way."""

import hashlib
import hmac
import json
from datetime import UTC, datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

GENESIS = "0" * 64

HASHED_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "request_id",
    "ip",
)


class UnknownKey(Exception):
    """A seal or checkpoint names a key this deployment does not hold."""


def normalise_json(value):
    """What the database will give back for `value`: plain JSON types only."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _canonical(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _mac(key_id: str, content: dict) -> str:
    try:
        key = settings.AUDIT_KEYS[key_id]
    except KeyError:
        raise UnknownKey(key_id) from None
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()


def signing_key_id() -> str:
    return settings.AUDIT_KEY_ID


def seal_mac(event, *, seq: int, prev_mac: str, key_id: str) -> str:
    content = {field: _canonical(getattr(event, field)) for field in HASHED_FIELDS}
    content.update(seq=seq, prev_mac=prev_mac, key_id=key_id)
    return _mac(key_id, content)


def checkpoint_signature(checkpoint: dict) -> str:
    """Signs a checkpoint's head: seq, mac, at and key_id."""
    content = {name: checkpoint[name] for name in ("seq", "mac", "at", "key_id")}
    return _mac(checkpoint["key_id"], content)


def macs_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

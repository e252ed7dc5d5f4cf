"""Reading the encodings evidence arrives in: base64 (standard or URL-safe, padded or not, as
DSSE requires verifiers to accept), JSON objects and RFC 3339 times, each refused with the field
it came from."""

import base64
import binascii
import json
from datetime import datetime

from apps.core import bounded_input
from apps.supplychain.verification.findings import BadEvidence

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # a provenance or a scan of a large image stays well below


def b64decode(field: str, text: object) -> bytes:
    if not isinstance(text, str) or not text:
        raise BadEvidence(field, "Expected base64 text.")
    if len(text) > MAX_DOCUMENT_BYTES * 4 // 3 + 4:
        raise BadEvidence(field, f"Longer than {MAX_DOCUMENT_BYTES} bytes once decoded.")
    standard = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadEvidence(field, "Not base64 (standard or URL-safe).") from None


def json_object(field: str, raw: bytes) -> dict:
    """A JSON object from bytes, bounded in size and depth."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise BadEvidence(field, f"Larger than {MAX_DOCUMENT_BYTES} bytes.")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadEvidence(field, "Not UTF-8 text.") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadEvidence(field, f"Not JSON: {exc}"[:200]) from None
    if not isinstance(document, dict):
        raise BadEvidence(field, "Expected a JSON object.")
    try:
        bounded_input.check_json(document)
    except bounded_input.BadInput as exc:
        where = field if exc.field == "body" else f"{field}.{exc.field}"
        raise BadEvidence(where, exc.message) from None
    return document


def timestamp(field: str, value: object) -> datetime:
    """An RFC 3339 time with its offset ("2026-12-01T10:00:00Z")."""
    if not isinstance(value, str) or len(value) > 40:
        raise BadEvidence(field, "Expected an RFC 3339 time, e.g. 2026-12-01T10:00:00Z.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadEvidence(field, f"{value!r} is not an RFC 3339 time.") from None
    if moment.tzinfo is None:
        raise BadEvidence(field, f"{value!r} has no time zone offset.")
    return moment


def text_at(document: dict, path: str) -> str:
    """The string at a dotted path ("predicate.builder.id"), or BadEvidence naming it."""
    value: object = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise BadEvidence(path, "Missing, or not a string.")
    return value

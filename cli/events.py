"""`runway deploy-event`: a deployment another tool made, sent to Runway's generic deployment
webhook and signed with the source's secret, as any tool would send it. The delivery id is
derived from the deployment, so sending the same event again is stored once."""

import hashlib
import hmac
import json

from cli.client import Refused
from cli.exits import FORBIDDEN, USAGE, CliError


def send_deployment(obj, *, source: str, secret: str, fields: dict) -> dict:
    deployment_id = fields.pop("deployment_id") or (
        f"{fields['service']}/{fields['environment']}/{fields['version']}/{fields['started_at']}"
    )
    body = {**fields, "id": deployment_id[:150], "delivery_id": _delivery_id(deployment_id, fields)}
    raw = json.dumps(body, separators=(",", ":")).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    try:
        return obj.tokenless_client().post_signed(
            "/api/v1/events/deployments",
            raw,
            params={"source": source},
            headers={"X-Runway-Signature-256": f"sha256={signature}"},
        )
    except Refused as exc:
        raise CliError(USAGE, exc.message, exc.body) from None
    except CliError as exc:
        if exc.code == FORBIDDEN:
            raise CliError(
                FORBIDDEN, f"the source {source!r} or its secret: {exc.message}"
            ) from None
        raise


def _delivery_id(deployment_id: str, fields: dict) -> str:
    facts = f"{deployment_id}|{fields['status']}|{fields['finished_at']}"
    return hashlib.sha256(facts.encode()).hexdigest()[:40]

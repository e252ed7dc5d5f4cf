"""Why a delivery is refused. Nothing of a refused delivery is stored."""


class WebhookRejected(Exception):
    status = 400

    def __init__(self, detail: str | dict):
        super().__init__(detail)
        self.detail = detail

    def as_body(self) -> dict:
        return self.detail if isinstance(self.detail, dict) else {"detail": self.detail}


class Unauthorised(WebhookRejected):
    """401: no such active source, or the secret or signature does not match."""

    status = 401


class BadPayload(WebhookRejected):
    """400: the body is not JSON, or a field the event needs is missing or malformed. The
    detail names the field (as a dotted path into the vendor's payload)."""

    status = 400

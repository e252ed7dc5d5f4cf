"""Request bodies larger than MAX_REQUEST_BYTES are refused before they are read.

Django's ASGI handler reads the whole body (spooling it to disk past 2.5 MB) before any
middleware or view runs, so a limit checked in Django comes after the work. This wrapper answers
413 at once when the declared length is too large, and stops reading a body sent without one
(chunked) as soon as it passes the limit."""

import json

REFUSED = "The request body is larger than {limit:,} bytes."


class BodyLimit:
    def __init__(self, app, *, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._refuse(scope, send)
        received, refused = 0, False

        async def limited_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:  # the app gave up on the body: it has nothing more to say
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, scope, send):
        detail = REFUSED.format(limit=self.max_bytes)
        if scope.get("path", "").startswith("/api/"):
            body, content_type = json.dumps({"detail": detail}).encode(), b"application/json"
        else:
            body, content_type = detail.encode(), b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

"""Creates a client may retry: a create sent with an `Idempotency-Key` header is done once per
user and key; the same request again gets the first answer back (with `Idempotent-Replayed:
true`) instead of a second object. A pipeline whose connection dropped after the server
committed can therefore send its create again without asking first whether it went through.

Only successful answers are kept: a refusal (a freeze, bad input) leaves nothing behind, so the
same key may be sent again once the reason is gone. Two requests with one key at once make one
object: the second finds the key claimed and is told to try again (409 with Retry-After), then
gets the first's answer. A process that dies between creating and recording leaves the key
claimed, and its retries keep getting 409: never a duplicate. Keys are forgotten after a day, as
Stripe forgets them."""

import hashlib
import json
from datetime import timedelta
from functools import wraps

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from apps.core.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 255
IN_FLIGHT = 0  # the status of a claimed key whose request has not answered yet

# For @extend_schema(parameters=[...]) on a create that is decorated with @idempotent.
SCHEMA_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description=(
        "Any unique string (a UUID): the same request sent again with the same key within a "
        "day gets the first answer back instead of creating a second object."
    ),
)


KEY_IN_FLIGHT = OpenApiResponse(
    description=f"A request with this {HEADER} is still being answered: retry after a second."
)
KEY_REUSED = OpenApiResponse(description=f"The {HEADER} was already used for a different request.")


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = {HEADER: ["This key was already used for a different request."]}


def idempotent(create):
    """Decorate a DRF view's create method (self, request, ...). The key is claimed in a
    transaction of its own before the create's own (services run in a durable transaction), and
    completed with the answer after it: a request with a claimed, unfinished key is told to try
    again shortly (409, Retry-After), never served a second object."""

    @wraps(create)
    def create_once(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return create(self, request, *args, **kwargs)
        if not (0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()):
            raise exceptions.ValidationError(
                {HEADER: [f"Give 1 to {MAX_KEY_LENGTH} printable ASCII characters."]}
            )
        operation = f"{request.method} {request.path}"[:200]
        record, claimed = _claim(request.user, key, operation, _fingerprint(request.data))
        if not claimed:
            return _answer_again(record, operation, _fingerprint(request.data))
        try:
            response = create(self, request, *args, **kwargs)
        except BaseException:
            record.delete()  # a refusal keeps no key: the same request may be sent again
            raise
        if status.is_success(response.status_code):
            record.status_code, record.body = response.status_code, response.data
            record.save(update_fields=["status_code", "body"])
        else:
            record.delete()
        return response

    return create_once


def _claim(user, key: str, operation: str, fingerprint: str) -> tuple[IdempotentRequest, bool]:
    """The key's row, and whether this request made it. Of two requests at once, one makes it
    and the other waits for that commit on the unique index, then reads it."""
    with transaction.atomic():
        IdempotentRequest.objects.filter(
            user=user, key=key, created_at__lt=timezone.now() - KEEP
        ).delete()
        return IdempotentRequest.objects.get_or_create(
            user=user,
            key=key,
            defaults={
                "operation": operation,
                "fingerprint": fingerprint,
                "status_code": IN_FLIGHT,
                "body": {},
            },
        )


def _answer_again(record: IdempotentRequest, operation: str, fingerprint: str) -> Response:
    if (record.operation, record.fingerprint) != (operation, fingerprint):
        raise KeyReused()
    if record.status_code == IN_FLIGHT:
        return Response(
            {"detail": "A request with this Idempotency-Key is still being answered."},
            status=status.HTTP_409_CONFLICT,
            headers={"Retry-After": "1"},
        )
    return Response(record.body, status=record.status_code, headers={"Idempotent-Replayed": "true"})


def idempotent_requests_forget(*, older_than: timedelta = KEEP) -> int:
    deleted, _ = IdempotentRequest.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted


def _fingerprint(data) -> str:
    canonical = json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()

from django.core.exceptions import ValidationError
from django.http import Http404


class Conflict(ValidationError):
    """The request is valid, but what it asks for has already happened or is happening: the
    API answers 409. Pages and forms show it like any other refusal."""


class Gone(Http404):
    """What the request acts on was deleted while it waited for the row (a concurrent delete):
    404 on pages and in the API, as if it had been gone when the request came."""


REFUSED = "refused"


def refused(message: str) -> ValidationError:
    """A request that is well formed but that a policy, a change window, a freeze or a version
    mark does not allow now: the API says so in a `Runway-Refusal: policy` header, so that a
    client (the `runway` command) tells it from input that is wrong."""
    return ValidationError(message, code=REFUSED)

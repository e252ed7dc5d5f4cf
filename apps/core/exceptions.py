from django.core.exceptions import ValidationError


class Conflict(ValidationError):
    """The request is valid, but what it asks for has already happened or is happening: the
    API answers 409. Pages and forms show it like any other refusal."""

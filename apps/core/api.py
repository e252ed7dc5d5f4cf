from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, parsers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.bounded_input import BadInput, load_json
from apps.core.exceptions import REFUSED, Conflict

# Set on a 400 a policy, window, freeze or version mark gave (apps/core/exceptions.refused).
REFUSAL_HEADER = "Runway-Refusal"


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """Services raise Django's ValidationError keyed by field; the API answers 400 with the same
    field names, exactly as the forms show them. A Conflict answers 409."""
    is_refusal = False
    if isinstance(exc, Conflict):
        conflict = exceptions.APIException({"detail": " ".join(exc.messages)})
        conflict.status_code = status.HTTP_409_CONFLICT
        exc = conflict
    elif isinstance(exc, DjangoValidationError):
        is_refusal = any(error.code == REFUSED for error in _errors(exc))
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if is_refusal and response is not None:
        response[REFUSAL_HEADER] = "policy"
    return response


def _errors(exc: DjangoValidationError) -> list[DjangoValidationError]:
    if hasattr(exc, "error_dict"):
        return [error for errors in exc.error_dict.values() for error in errors]
    return exc.error_list


class JSONParser(parsers.JSONParser):
    """DRF's, through bounded_input: a NUL byte or nesting deeper than anyone means is a 400
    naming the field, not a 500 from the database or from Python's recursion limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return load_json(stream.read().decode(encoding))
        except BadInput as exc:
            raise exceptions.ParseError({exc.field: [exc.message]}) from None
        except ValueError as exc:  # not JSON, or not in the encoding (UnicodeDecodeError)
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.exceptions import Conflict


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """Services raise Django's ValidationError keyed by field; the API answers 400 with the same
    field names, exactly as the forms show them. A Conflict answers 409."""
    if isinstance(exc, Conflict):
        conflict = exceptions.APIException({"detail": " ".join(exc.messages)})
        conflict.status_code = status.HTTP_409_CONFLICT
        exc = conflict
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)

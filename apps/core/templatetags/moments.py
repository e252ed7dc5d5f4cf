from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()


@register.filter
def moment(value) -> str:
    """An instant as people read it: in the current time zone (the viewer's, where the view
    sets it), to the minute, with the zone's name. Takes a datetime or an ISO 8601 string."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if timezone.is_naive(value):
        return date_format(value, "Y-m-d H:i")
    return date_format(timezone.localtime(value), "Y-m-d H:i T")

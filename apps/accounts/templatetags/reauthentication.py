"""The action a re-authentication prompt confirms, as kept by apps.accounts.reauthentication."""

from django import template

from apps.accounts.reauthentication import purpose_of

register = template.Library()


@register.simple_tag(takes_context=True)
def reauthentication_purpose(context) -> str:
    request = context.get("request")
    return purpose_of(request) if request is not None else ""

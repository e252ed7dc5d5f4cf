"""What a re-authentication prompt confirms. An action kept with allauth's
`stash_and_reauthenticate` may name its `purpose` in the state it keeps ("approve release #12 of
payments to prod"), and the prompt then says what the password is for."""

from allauth.account.internal.flows.reauthentication import STATE_SESSION_KEY
from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def reauthentication_purpose(context) -> str:
    request = context.get("request")
    kept = request.session.get(STATE_SESSION_KEY) if request is not None else None
    state = kept.get("state") if isinstance(kept, dict) else None
    return str(state.get("purpose", "")) if isinstance(state, dict) else ""

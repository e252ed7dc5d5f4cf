"""The forms for change windows and freezes. They check the shape of the input; every rule
about a window or a freeze is apps/releases/calendar/validation.py's, which the services and
the preview apply to what the forms give them."""

import zoneinfo
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from django import forms

from apps.accounts.models import Team
from apps.catalog.models import EnvironmentKind, Service
from apps.releases.models import ChangeWindow, Freeze, WindowScope

# Dates far outside this make no sense for a window or a freeze, and date arithmetic near the
# year 1 or 9999 overflows.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200
RULE_HELP = "RFC 5545, e.g. FREQ=WEEKLY;BYDAY=MO,TU,WE,TH or FREQ=MONTHLY;INTERVAL=3"


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(zoneinfo.available_timezones())]


class WallClockField(forms.DateTimeField):
    """A date and time as typed, with no time zone: the window's or freeze's own zone gives it
    one. (Django's field would place it in the server's zone.)"""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            raise forms.ValidationError(f"Pick a date between {EARLIEST_YEAR} and {LATEST_YEAR}.")
        return parsed.replace(tzinfo=None)


def _wall_clock(moment: datetime | None, zone_name: str) -> datetime | None:
    """An instant as wall-clock time in a zone, for a form's initial value."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None)


class _ScopedForm(forms.Form):
    scope = forms.ChoiceField(choices=WindowScope.choices, initial=WindowScope.ORGANISATION)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Choose a team (team scope)",
    )
    # A text field, not a select: a catalog may hold 10,000 services.
    service = forms.ModelChoiceField(
        queryset=Service.objects.all(),
        to_field_name="name",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Service scope: the service's name.",
        error_messages={"invalid_choice": "No service has that name."},
    )
    environment_kind = forms.ChoiceField(
        choices=[("", "Choose a kind (environment scope)"), *EnvironmentKind.choices],
        required=False,
    )
    time_zone = forms.ChoiceField(choices=time_zone_choices)


class ChangeWindowForm(_ScopedForm):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=ChangeWindow.Kind.choices, label="Allow or deny")
    rrule = forms.CharField(max_length=500, label="Rule (RRULE)", help_text=RULE_HELP)
    starts_at_local = WallClockField(
        label="First occurrence", help_text="Wall-clock time in the window's time zone."
    )
    duration_minutes = forms.IntegerField(min_value=1, max_value=10**6, label="Duration (minutes)")
    field_order = [
        "name", "kind", "rrule", "starts_at_local", "duration_minutes", "time_zone", "scope",
        "team", "service", "environment_kind",
    ]  # fmt: skip

    @classmethod
    def initial_for(cls, window: ChangeWindow) -> dict:
        return {
            "name": window.name,
            "kind": window.kind,
            "rrule": window.rrule,
            "starts_at_local": window.starts_at_local.replace(tzinfo=None),
            "duration_minutes": window.duration_minutes,
            "time_zone": window.time_zone,
            "scope": window.scope,
            "team": window.team.slug if window.team is not None else None,
            "service": window.service.name if window.service is not None else None,
            "environment_kind": window.environment_kind,
        }


class FreezeForm(_ScopedForm):
    name = forms.CharField(max_length=100)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    starts_at = WallClockField(label="Starts", help_text="In the freeze's time zone.")
    ends_at = WallClockField(label="Ends", help_text="In the freeze's time zone.")
    rrule = forms.CharField(
        max_length=500,
        required=False,
        label="Repeats (RRULE)",
        help_text=f"Leave empty for a one-off freeze. {RULE_HELP}. Each occurrence starts at "
        "the same wall-clock time and lasts as long as the first.",
    )
    field_order = [
        "name", "reason", "starts_at", "ends_at", "time_zone", "rrule", "scope", "team",
        "service", "environment_kind",
    ]  # fmt: skip

    def clean(self):
        """Place the wall-clock times in the freeze's zone: the services take instants."""
        super().clean()
        data = self.cleaned_data
        zone = data.get("time_zone")
        for name in ("starts_at", "ends_at"):
            if zone and data.get(name) is not None:
                data[name] = data[name].replace(tzinfo=ZoneInfo(zone))
        return data

    @classmethod
    def initial_for(cls, freeze: Freeze) -> dict:
        return {
            "name": freeze.name,
            "reason": freeze.reason,
            "starts_at": _wall_clock(freeze.starts_at, freeze.time_zone),
            "ends_at": _wall_clock(freeze.ends_at, freeze.time_zone),
            "rrule": freeze.rrule,
            "time_zone": freeze.time_zone,
            "scope": freeze.scope,
            "team": freeze.team.slug if freeze.team is not None else None,
            "service": freeze.service.name if freeze.service is not None else None,
            "environment_kind": freeze.environment_kind,
        }


class EndFreezeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        required=False,  # the service says a reason is needed, for the page and the API alike
        label="Why it ends early",
    )


class ExtendFreezeForm(forms.Form):
    ends_at = WallClockField(label="New end")

    def __init__(self, *args, zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.fields["ends_at"].help_text = f"In the freeze's time zone, {zone}."

    def clean_ends_at(self):
        ends_at = self.cleaned_data["ends_at"]
        return ends_at.replace(tzinfo=ZoneInfo(self.zone)) if ends_at else ends_at

import zoneinfo
from functools import cache

from django import forms

from apps.accounts.models import Alias, Role, Team, User

EXPIRY_CHOICES = [("", "Never"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “CI pipeline”.")
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        initial="90",
        label="Expires",
    )


@cache
def _time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(zoneinfo.available_timezones())]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(choices=_time_zone_choices)


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["slug", "name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username__iexact=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"No active user called {username!r}.")
        return user


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AliasForm(forms.Form):
    kind = forms.ChoiceField(choices=Alias.Kind.choices)
    value = forms.CharField(max_length=254, label="E-mail or login")

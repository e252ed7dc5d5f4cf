from django import forms

from apps.accounts import permissions
from apps.catalog.models import Environment, Service
from apps.releases.models import ChangeType, StandardChangeTemplate


def services_for(user):
    queryset = Service.objects.select_related("owner").order_by("name")
    if permissions.is_platform_admin(user):
        return queryset
    return queryset.filter(owner_id__in=permissions.team_ids_of(user))


class CommitsField(forms.CharField):
    """One commit per line: `sha author timestamp message`, as `git log --format='%H %ae %aI %s'`
    prints them."""

    widget = forms.Textarea(
        attrs={
            "rows": 4,
            "placeholder": "9f2c1e7 dana@example.com 2026-11-28T10:15:00Z Fix rounding",
        }
    )

    def to_python(self, value) -> list[dict]:
        commits = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split(maxsplit=3)
            if len(parts) < 3:
                raise forms.ValidationError(f"Line {number}: write `sha author timestamp message`.")
            when = forms.DateTimeField().to_python(parts[2])
            commits.append(
                {
                    "sha": parts[0],
                    "author": parts[1],
                    "committed_at": when,
                    "message": parts[3] if len(parts) > 3 else "",
                }
            )
        return commits


class ReleaseForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.none(), to_field_name="name")
    environment = forms.ModelChoiceField(queryset=Environment.objects.none())
    version = forms.CharField(
        max_length=300, help_text="Image tag or digest, e.g. registry/app@sha256:…"
    )
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    change_type = forms.ChoiceField(choices=ChangeType.choices, initial=ChangeType.NORMAL)
    standard_template = forms.ModelChoiceField(
        queryset=StandardChangeTemplate.objects.filter(is_active=True),
        required=False,
        help_text="Standard changes only.",
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Emergency changes only: why it cannot wait.",
    )
    planned_start = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    planned_end = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    commits = CommitsField(required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        services = services_for(user)
        self.fields["service"].queryset = services
        self.fields["environment"].queryset = (
            Environment.objects.filter(service__in=services)
            .select_related("service")
            .order_by("service__name", "order")
        )
        self.fields["environment"].label_from_instance = lambda env: (
            f"{env.service.name} / {env.name}"
        )

    def clean(self):
        data = super().clean()
        service, environment = data.get("service"), data.get("environment")
        if service and environment and environment.service_id != service.pk:
            self.add_error("environment", f"Pick an environment of {service.name}.")
        return data


class DecisionForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,  # the service says what a reason needs, for the page and the API alike
        label="Why it cannot wait for an independent approval",
    )

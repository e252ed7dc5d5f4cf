from django import forms
from django.urls import reverse

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.catalog.models import Environment, Service
from apps.core.forms import model_choice_field
from apps.releases.models import ChangeType, StandardChangeTemplate

# Search-as-you-type shows this many services; typing more narrows them.
SERVICE_MATCHES = 20
SERVICE_QUERY_MAX = 100


def services_for(user):
    """The services `user` may request releases of."""
    queryset = Service.objects.select_related("owner").order_by("name")
    if permissions.is_platform_admin(user):
        return queryset
    return queryset.filter(owner_id__in=permissions.team_ids_of(user))


def service_matches(user, text: str) -> list[str]:
    """Names of the services `user` may request releases of that start with, then contain,
    `text`: the release form's suggestions, a bounded few whatever the catalog's size."""
    text = text.strip()[:SERVICE_QUERY_MAX]
    names = services_for(user).values_list("name", flat=True)
    starting = list(names.filter(name__istartswith=text)[:SERVICE_MATCHES])
    if len(starting) == SERVICE_MATCHES or not text:
        return starting
    containing = names.filter(name__icontains=text).exclude(name__istartswith=text)
    return starting + list(containing[: SERVICE_MATCHES - len(starting)])


def environments_of(user, service_name: str):
    """The environments of one service `user` may request releases of, in promotion order."""
    return Environment.objects.filter(
        service__in=services_for(user), service__name=service_name
    ).order_by("order", "name")


class CommitsField(forms.Field):
    """One commit per line: `sha author timestamp message`, as `git log --format='%H %ae %aI %s'`
    prints them."""

    widget = forms.Textarea(
        attrs={
            "rows": 4,
            "placeholder": "9f2c1e7 dana@example.com 2026-11-28T10:15:00Z Fix rounding",
        }
    )

    def to_python(self, value: str | None) -> list[dict]:
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


class EnvironmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Environment) -> str:
        return obj.name


class ReleaseForm(forms.Form):
    # A text field with suggestions, not a select: a catalog may hold 10,000 services.
    service = forms.ModelChoiceField(
        queryset=Service.objects.none(),
        to_field_name="name",
        widget=forms.TextInput(
            attrs={"list": "service-options", "autocomplete": "off", "spellcheck": "false"}
        ),
        error_messages={"invalid_choice": "No service of yours has that name."},
    )
    environment = EnvironmentChoiceField(
        queryset=Environment.objects.none(),
        empty_label="Choose a service first",
        error_messages={"invalid_choice": "Pick an environment of the chosen service."},
    )
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
        model_choice_field(self, "service").queryset = services_for(user)
        self.fields["service"].widget.attrs.update(
            {
                "hx-get": reverse("releases:form-services"),
                "hx-trigger": "input changed delay:200ms, focus once",
                "hx-target": "#service-options",
                "hx-sync": "this:replace",
            }
        )
        self.fields["environment"].widget.attrs.update(
            {
                "hx-get": reverse("releases:form-environments"),
                "hx-trigger": "change from:#id_service",
                "hx-include": "#id_service",
            }
        )
        # Only the chosen service's environments; the page swaps them when the service changes.
        service_name = (self.data.get("service") if self.is_bound else None) or (
            self.initial.get("service") or ""
        )
        if service_name:
            environment = model_choice_field(self, "environment")
            environment.queryset = environments_of(user, str(service_name))
            environment.empty_label = "Choose an environment"

    def clean(self):
        super().clean()
        data = self.cleaned_data
        service, environment = data.get("service"), data.get("environment")
        if service and environment and environment.service_id != service.pk:
            self.add_error("environment", f"Pick an environment of {service.name}.")
        return data


class DecisionForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    confirm_risks = forms.BooleanField(required=False, label="Approve although these gates fail")


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,  # the service says what a reason needs, for the page and the API alike
        label="Why it cannot wait for an independent approval",
    )


class EvidencePeriodForm(forms.Form):
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="The whole organisation",
    )
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Included.")

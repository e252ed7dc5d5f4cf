from django import forms

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.catalog.models import Cluster, Environment, Service, System
from apps.core.forms import model_choice_field


def teams_for(user):
    """The teams a user may pick as owner."""
    if permissions.is_platform_admin(user):
        return Team.objects.order_by("name")
    return Team.objects.filter(pk__in=permissions.team_ids_of(user)).order_by("name")


class CommaSeparatedField(forms.Field):
    """Words separated by commas or lines, as a list."""

    def to_python(self, value: object) -> list[str]:
        text = "" if value in self.empty_values else str(value)
        return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


class ServiceForm(forms.ModelForm):
    tags = CommaSeparatedField(required=False, help_text="Comma-separated, e.g. python, payments")
    depends_on = CommaSeparatedField(
        required=False, label="Depends on", help_text="Names of services this one calls."
    )
    strategy_params = forms.JSONField(
        required=False, label="Strategy parameters (JSON)", widget=forms.Textarea(attrs={"rows": 4})
    )
    links = forms.JSONField(
        required=False,
        help_text='[{"title": "Dashboard", "url": "https://…"}]',
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = Service
        fields = [
            "title", "description", "owner", "system", "type", "lifecycle", "tier", "language",
            "repository_url", "runbook_url", "on_call", "links", "image", "container_port",
            "replicas", "cpu", "memory", "health_path", "autoscale_max", "pdb_min_available",
            "strategy", "strategy_params",
        ]  # fmt: skip
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        model_choice_field(self, "owner").queryset = teams_for(user)
        model_choice_field(self, "system").queryset = System.objects.order_by("name")
        if self.instance.pk:
            self.initial["tags"] = [tag.name for tag in self.instance.tags.all()]
            self.initial["depends_on"] = list(
                self.instance.dependencies.filter(target_service__isnull=False)
                .order_by("target_service__name")
                .values_list("target_service__name", flat=True)
            )

    def clean_depends_on(self) -> list[Service]:
        names = self.cleaned_data["depends_on"]
        found = {service.name: service for service in Service.objects.filter(name__in=names)}
        missing = [name for name in names if name not in found]
        if missing:
            raise forms.ValidationError(f"No service called {', '.join(missing)}.")
        return [found[name] for name in names]

    def clean_strategy_params(self):
        value = self.cleaned_data.get("strategy_params")
        return value if isinstance(value, dict) else {}

    def clean_links(self):
        value = self.cleaned_data.get("links")
        return value if value is not None else []

    def _post_clean(self):
        # The service layer validates the model; the form only checks its own fields.
        pass


class EnvironmentForm(forms.ModelForm):
    """An environment's delivery settings; the rest of it names what already runs there."""

    class Meta:
        model = Environment
        fields = ["replicas", "soak_seconds", "auto_promote", "cluster"]
        labels = {"soak_seconds": "Soak (seconds)", "auto_promote": "Promote automatically"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cluster = model_choice_field(self, "cluster")
        cluster.queryset = Cluster.objects.order_by("name")
        cluster.empty_label = "Runway's default"

    def _post_clean(self):
        # The service layer validates the model; the form only checks its own fields.
        pass

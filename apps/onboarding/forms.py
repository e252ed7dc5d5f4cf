"""What each step of the wizard accepts.

A step form turns its cleaned data into JSON-safe `values()` for the draft, and
`initial_from_values()` turns a draft's values back into what the form shows. Rows (canary steps,
environments, links) are formsets nested in the step form. Field names are the catalog service's,
so the catalog's errors land on the field they name.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.forms import BaseFormSet, formset_factory
from django.urls import reverse_lazy

from apps.accounts.models import Team
from apps.catalog.delivery import ANALYSIS_KEYS, DEFAULT_PARAMS
from apps.catalog.models import (
    EnvironmentKind,
    GoldenPathTemplate,
    Lifecycle,
    Service,
    ServiceType,
    Strategy,
    Tier,
    dns_label_validator,
    quantity_validator,
)
from apps.catalog.services import DEFAULT_ENVIRONMENTS
from apps.core.forms import add_service_errors, model_choice_field
from apps.onboarding import selectors
from apps.onboarding.models import Step
from apps.onboarding.wizard_steps import LEFT_KEY


class HttpUrlField(forms.URLField):
    """A web address: http or https only, as the catalog accepts."""

    default_validators = [URLValidator(schemes=["http", "https"])]

    def __init__(self, **kwargs):
        super().__init__(assume_scheme="https", max_length=500, **kwargs)


class TemplateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: GoldenPathTemplate) -> str:
        return f"{obj.title} ({obj}{', the golden path' if obj.is_default else ''})"


def _service_default(field: str) -> Any:
    model_field = Service._meta.get_field(field)
    if not isinstance(model_field, models.Field):
        raise TypeError(f"Service.{field} is a relation, not a column")
    return model_field.default


def _template(pk) -> GoldenPathTemplate | None:
    pk = getattr(pk, "pk", pk)
    return GoldenPathTemplate.objects.filter(pk=pk).first() if str(pk or "").isdigit() else None


# --- Rows -------------------------------------------------------------------------------------


def say_what_is_too_long(form: forms.Form) -> None:
    """A browser's `maxlength` cuts a pasted name without a word; without it, the field's own
    message says how long is too long, and the value typed is kept to be corrected."""
    for field in form.fields.values():
        field.widget.attrs.pop("maxlength", None)


class RowForm(forms.Form):
    """One row of a table: each input is labelled with its row, as the table has no labels."""

    row_label = "Row"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        say_what_is_too_long(self)
        index = (self.prefix or "").rsplit("-", 1)[-1]
        number = int(index) + 1 if index.isdigit() else ""
        for field in self.fields.values():
            field.widget.attrs["aria-label"] = f"{self.row_label} {number}: {field.label}"

    def is_blank(self) -> bool:
        return not any(str(self.cleaned_data.get(name) or "").strip() for name in self.fields)


class CanaryStepForm(RowForm):
    row_label = "Canary step"
    HINTS = {
        "set_weight": "Enter the share of traffic, 1 to 100.",
        "pause": "Enter seconds, or leave empty to wait until someone promotes.",
        "analysis": "Enter the name of the analysis template.",
    }

    type = forms.ChoiceField(
        label="Step",
        choices=[
            ("set_weight", "Send traffic (%)"),
            ("pause", "Pause (seconds)"),
            ("analysis", "Run analysis (template)"),
        ],
    )
    value = forms.CharField(label="Value", required=False, max_length=100)

    def clean(self):
        super().clean()
        data = self.cleaned_data
        kind, value = data.get("type") or "", (data.get("value") or "").strip()
        not_a_number = kind in ("set_weight", "pause") and value and not value.isdigit()
        missing = kind in ("set_weight", "analysis") and not value
        if not_a_number or missing:
            self.add_error("value", self.HINTS[kind])
        return data

    def step(self) -> dict:
        kind, value = self.cleaned_data["type"], self.cleaned_data["value"].strip()
        if kind == "set_weight":
            return {"set_weight": int(value)}
        if kind == "pause":
            return {"pause": {"seconds": int(value)} if value else {}}
        return {"analysis": {"template": value}}

    @staticmethod
    def row_from_step(step: dict) -> dict:
        ((kind, value),) = step.items()
        if kind == "set_weight":
            return {"type": kind, "value": str(value)}
        if kind == "pause":
            return {"type": kind, "value": str(value.get("seconds", ""))}
        return {"type": kind, "value": value.get("template", "")}


class EnvironmentForm(RowForm):
    row_label = "Environment"

    name = forms.CharField(label="Name", max_length=63, validators=[dns_label_validator])
    kind = forms.ChoiceField(label="Kind", choices=EnvironmentKind.choices)
    replicas = forms.IntegerField(label="Replicas", required=False, min_value=1, max_value=100)
    namespace = forms.CharField(
        label="Namespace", required=False, max_length=63, validators=[dns_label_validator]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["replicas"].widget.attrs["placeholder"] = "as the service"
        self.fields["namespace"].widget.attrs["placeholder"] = "team-environment"


class LinkForm(RowForm):
    row_label = "Link"

    title = forms.CharField(label="Title", required=False, max_length=200)
    url = HttpUrlField(label="URL", required=False)

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if self.errors or self.is_blank():
            return data
        if not data.get("title"):
            self.add_error("title", "Give the link a title.")
        if not data.get("url"):
            self.add_error("url", "Enter the link's address.")
        return data


class EnvironmentRows(BaseFormSet):
    def clean(self):
        # The catalog would quietly add dev, staging and prod for none at all.
        if not self.forms:
            raise ValidationError("Keep at least one environment.")


CanaryStepFormSet = formset_factory(CanaryStepForm, extra=0)
EnvironmentFormSet = formset_factory(EnvironmentForm, formset=EnvironmentRows, extra=0)
LinkFormSet = formset_factory(LinkForm, extra=0)


# --- Steps ------------------------------------------------------------------------------------


class StepForm(forms.Form):
    """A step: its own fields, its nested row formsets (prefix = the name in `formsets`) and the
    sections that show catalog errors about things that are not one field (such as links)."""

    step: Step
    formsets: dict[str, type[BaseFormSet]] = {}
    sections: tuple[str, ...] = ()

    def __init__(self, data=None, *, user, initial=None, **kwargs):
        super().__init__(data, initial=initial, **kwargs)
        say_what_is_too_long(self)
        self.user = user
        self.section_errors: dict[str, list[str]] = {}
        self.rows = {
            name: formset(data, prefix=name)
            if data is not None
            else formset(initial=(initial or {}).get(name, []), prefix=name)
            for name, formset in self.formsets.items()
        }

    def active_rows(self) -> dict[str, BaseFormSet]:
        """The formsets this step's choices use (a canary's steps only for a canary)."""
        return self.rows

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return all([valid, *(rows.is_valid() for rows in self.active_rows().values())])

    def add_step_errors(self, errors: dict[str, list[str]]) -> None:
        """Show the catalog's errors for this step: next to the field, or the section, named."""
        # Where the form's own check already flags a field, it said the same in its words.
        fields = {
            key: messages
            for key, messages in errors.items()
            if key not in self.sections and key not in self.errors
        }
        if fields:
            add_service_errors(self, ValidationError(fields))
        self.section_errors.update(
            {key: messages for key, messages in errors.items() if key in self.sections}
        )

    def values(self) -> dict:
        """The cleaned data in JSON-safe form, as the draft keeps it."""
        raise NotImplementedError

    @classmethod
    def initial_from_values(cls, values: dict | None, *, draft_data: dict) -> dict:
        """What the form shows for saved values, or for a first visit (None)."""
        raise NotImplementedError

    @classmethod
    def initial_from_post(cls, post) -> dict:
        """The form as the user left it, unchecked: to redraw it after adding a row."""
        initial = {name: post.get(name) for name in cls.base_fields}
        for name, formset in cls.formsets.items():
            fields = formset.form.base_fields
            try:
                total = min(int(post.get(f"{name}-TOTAL_FORMS", 0)), 100)
            except ValueError:
                total = 0
            initial[name] = [
                {field: post.get(f"{name}-{index}-{field}", "") for field in fields}
                for index in range(total)
            ]
        return initial

    @classmethod
    def post_from_initial(cls, initial: dict) -> dict:
        """The inverse: what the browser would post for this initial data."""
        post = {}
        for name in cls.base_fields:
            value = initial.get(name)
            if isinstance(value, bool):
                if value:
                    post[name] = "on"
            elif value is not None:
                post[name] = str(value)
        for name in cls.formsets:
            rows = initial.get(name) or []
            post[f"{name}-TOTAL_FORMS"] = str(len(rows))
            post[f"{name}-INITIAL_FORMS"] = str(len(rows))
            for index, row in enumerate(rows):
                for field, value in row.items():
                    post[f"{name}-{index}-{field}"] = "" if value is None else str(value)
        return post

    def redraw(self, operation: str) -> dict:
        """Initial data after an edit that is not a submit: add a row, remove one."""
        action, _, target = operation.partition(":")
        initial = dict(self.initial)
        name, _, index = target.partition(":")
        if name in self.formsets:
            rows = list(initial.get(name) or [])
            if action == "add":
                rows.append(self.new_row(name))
            elif action == "remove" and index.isdigit() and int(index) < len(rows):
                rows.pop(int(index))
            initial[name] = rows
        return initial

    def new_row(self, formset: str) -> dict:
        return {}


class ServiceNameForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=63,
        validators=[dns_label_validator],
        help_text="Lowercase letters, digits and '-': it names the Kubernetes objects too.",
        error_messages={
            "max_length": "A name has at most %(limit_value)d characters, as Kubernetes names "
            "its objects with it; this one has %(show_value)d."
        },
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "hx-get": reverse_lazy("onboarding:name-check"),
                "hx-trigger": "keyup changed delay:300ms",
                "hx-target": "#name-status",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.pop("maxlength", None)  # the check at typing says it

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if selectors.service_name_taken(name=name):
            raise ValidationError(f"A service called {name!r} already exists.", code="taken")
        return name

    def availability(self) -> tuple[str, str]:
        """("available" | "taken" | "invalid", what to tell the user)."""
        if self.is_valid():
            return "available", f"{self.cleaned_data['name']} is available"
        if self.has_error("name", code="taken"):
            return "taken", f"{self.data.get('name', '').strip()} is taken"
        return "invalid", " ".join(map(str, self.errors.get("name", [])))


class BasicsForm(ServiceNameForm, StepForm):
    step = Step.BASICS

    title = forms.CharField(label="Title", max_length=200, help_text="How people call it.")
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    owner = forms.ModelChoiceField(
        label="Owner team",
        queryset=Team.objects.none(),
        empty_label="Choose a team",
        error_messages={"invalid_choice": "Choose one of your own teams."},
    )
    system = forms.ModelChoiceField(
        label="System",
        queryset=selectors.system_choices(),
        required=False,
        empty_label="None",
        help_text="The product capability it is part of, if any.",
    )
    type = forms.ChoiceField(label="Type", choices=ServiceType.choices)
    tier = forms.TypedChoiceField(label="Tier", choices=Tier.choices, coerce=int)
    lifecycle = forms.ChoiceField(label="Lifecycle", choices=Lifecycle.choices)
    repository_url = HttpUrlField(label="Repository URL", required=False)
    tags = forms.CharField(
        label="Tags", required=False, help_text="Separated by commas, e.g. payments, python."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        teams = selectors.owner_teams(user=self.user)
        model_choice_field(self, "owner").queryset = teams
        if not self.is_bound and not self.initial.get("owner") and len(teams) == 1:
            self.initial["owner"] = teams[0].pk

    def clean_tags(self) -> list[str]:
        tags = sorted({tag.strip().lower() for tag in self.cleaned_data["tags"].split(",")} - {""})
        too_long = [tag for tag in tags if len(tag) > 63]
        if too_long:
            raise ValidationError(f"Tag {too_long[0][:20]!r}… is longer than 63 characters.")
        return tags

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            **{key: data[key] for key in ("name", "title", "description", "type", "tier")},
            **{key: data[key] for key in ("lifecycle", "repository_url", "tags")},
            "owner": data["owner"].pk,
            "system": data["system"].pk if data["system"] else None,
        }

    @classmethod
    def initial_from_values(cls, values, *, draft_data):
        if values is None:
            return {
                "type": ServiceType.SERVICE,
                "tier": Tier.STANDARD,
                "lifecycle": Lifecycle.EXPERIMENTAL,
            }
        return {**values, "tags": ", ".join(values.get("tags", []))}


class RuntimeForm(StepForm):
    step = Step.RUNTIME
    sections = ("manifests",)
    TEMPLATE_FIELDS = ("container_port", "health_path", "cpu", "memory")

    template = TemplateChoiceField(
        label="Golden-path template",
        queryset=selectors.latest_templates(),
        required=False,
        empty_label="No template",
        help_text="Fills in the port, health check, resources and delivery strategy it uses.",
        widget=forms.Select(
            attrs={
                "hx-post": reverse_lazy("onboarding:redraw", args=[Step.RUNTIME]),
                "hx-vals": '{"op": "template"}',
            }
        ),
    )
    image = forms.CharField(
        label="Container image",
        required=False,
        max_length=300,
        help_text="Empty: registry.example.com/NAME:latest until the first release.",
    )
    container_port = forms.IntegerField(label="Port", min_value=1, max_value=65535)
    replicas = forms.IntegerField(label="Replicas", min_value=1, max_value=100)
    cpu = forms.CharField(label="CPU", max_length=20, validators=[quantity_validator])
    memory = forms.CharField(label="Memory", max_length=20, validators=[quantity_validator])
    health_path = forms.CharField(label="Health check path", max_length=200)
    autoscale_max = forms.IntegerField(
        label="Autoscale up to (HPA)",
        required=False,
        min_value=1,
        max_value=1000,
        help_text="Empty: no HorizontalPodAutoscaler.",
    )
    pdb_min_available = forms.IntegerField(
        label="Pods kept available (PDB)",
        required=False,
        min_value=1,
        max_value=1000,
        help_text="Empty: no PodDisruptionBudget.",
    )

    def clean_health_path(self) -> str:
        path = self.cleaned_data["health_path"]
        if not path.startswith("/"):
            raise ValidationError("Start the path with '/', e.g. /healthz.")
        return path

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            **{key: value for key, value in data.items() if key != "template"},
            "template": data["template"].pk if data["template"] else None,
        }

    @classmethod
    def initial_from_values(cls, values, *, draft_data):
        if values is not None:
            return dict(values)
        fields = ("container_port", "replicas", "cpu", "memory", "health_path")
        initial = {field: _service_default(field) for field in fields}
        template = selectors.default_template()
        if template is not None:  # the golden path, unless the developer chooses otherwise
            initial["template"] = template.pk
            initial.update({field: getattr(template, field) for field in cls.TEMPLATE_FIELDS})
        return initial

    def redraw(self, operation: str) -> dict:
        initial = super().redraw(operation)
        template = _template(initial.get("template"))
        if operation == "template" and template is not None:
            initial.update({field: getattr(template, field) for field in self.TEMPLATE_FIELDS})
        return initial

    def chosen_template(self) -> GoldenPathTemplate | None:
        return _template(
            self.data.get("template") if self.is_bound else self.initial.get("template")
        )


class DeliveryForm(StepForm):
    step = Step.DELIVERY
    formsets = {"canary": CanaryStepFormSet, "environments": EnvironmentFormSet}
    sections = ("strategy_params", "environments")
    PARAMS: dict[str, tuple[str, ...]] = {
        Strategy.ROLLING: ("max_surge", "max_unavailable", "post_deploy_analysis"),
        Strategy.CANARY: (),
        Strategy.BLUE_GREEN: (
            "auto_promotion",
            "auto_promotion_seconds",
            "scale_down_delay_seconds",
            "pre_promotion_analysis",
            "post_promotion_analysis",
        ),
    }
    OPTIONAL = ("auto_promotion", *ANALYSIS_KEYS)

    strategy = forms.ChoiceField(
        label="Strategy",
        choices=Strategy.choices,
        widget=forms.Select(
            attrs={
                "hx-post": reverse_lazy("onboarding:redraw", args=[Step.DELIVERY]),
                "hx-vals": '{"op": "strategy"}',
            }
        ),
    )
    max_surge = forms.CharField(
        label="Max surge", required=False, max_length=10, help_text="A count (1) or a share (25%)."
    )
    max_unavailable = forms.CharField(
        label="Max unavailable",
        required=False,
        max_length=10,
        help_text="A count (0) or a share (25%).",
    )
    auto_promotion = forms.BooleanField(label="Promote automatically", required=False)
    auto_promotion_seconds = forms.IntegerField(
        label="Promote after (seconds)", required=False, min_value=0, max_value=86_400
    )
    scale_down_delay_seconds = forms.IntegerField(
        label="Scale down the old version after (seconds)",
        required=False,
        min_value=0,
        max_value=86_400,
    )
    post_deploy_analysis = forms.CharField(
        label="Verify after deploying (analysis template)",
        required=False,
        max_length=63,
        help_text="Empty: nothing is verified.",
    )
    pre_promotion_analysis = forms.CharField(
        label="Verify the preview (analysis template)",
        required=False,
        max_length=63,
        help_text="Run before traffic switches. Empty: nothing.",
    )
    post_promotion_analysis = forms.CharField(
        label="Verify after switching (analysis template)",
        required=False,
        max_length=63,
        help_text="A failure switches back. Empty: nothing.",
    )

    def strategy_choice(self) -> str:
        source = self.data if self.is_bound else self.initial
        return source.get("strategy") or Strategy.ROLLING

    def active_rows(self):
        return {
            name: rows
            for name, rows in self.rows.items()
            if name != "canary" or self.strategy_choice() == Strategy.CANARY
        }

    def clean(self):
        super().clean()
        data = self.cleaned_data
        strategy = data.get("strategy") or ""
        for field in self.PARAMS.get(strategy, ()):
            if field not in self.OPTIONAL and data.get(field) in (None, ""):
                self.add_error(field, "Required for this strategy.")
        return data

    def values(self) -> dict:
        data, strategy = self.cleaned_data, self.cleaned_data["strategy"]
        params = {
            field: data[field]
            for field in self.PARAMS[strategy]
            if field not in ANALYSIS_KEYS or data[field]  # an empty one verifies nothing
        }
        if strategy == Strategy.CANARY:
            params["steps"] = [row.step() for row in self.rows["canary"].forms if row.cleaned_data]
        environments = [row.cleaned_data for row in self.rows["environments"].forms]
        environments = [row for row in environments if row]
        return {"strategy": strategy, "strategy_params": params, "environments": environments}

    @classmethod
    def initial_from_values(cls, values, *, draft_data):
        if values is None:
            runtime = draft_data.get(Step.RUNTIME, {})
            template = _template(runtime.get("template"))
            strategy = template.strategy if template else Strategy.ROLLING
            replicas = runtime.get("replicas") or _service_default("replicas")
            values = {
                "strategy": strategy,
                # The template's canary steps and verification gates, else the strategy's own.
                "strategy_params": {
                    **DEFAULT_PARAMS[strategy],
                    **(template.strategy_params if template else {}),
                },
                "environments": [
                    {
                        "name": name,
                        "kind": kind,
                        "replicas": replicas if kind == EnvironmentKind.PRODUCTION else 1,
                        "namespace": "",
                    }
                    for name, kind in DEFAULT_ENVIRONMENTS
                ],
            }
        params = values["strategy_params"]
        return {
            "strategy": values["strategy"],
            **{key: value for key, value in params.items() if key != "steps"},
            "canary": [CanaryStepForm.row_from_step(step) for step in params.get("steps", [])],
            "environments": [
                {key: "" if value is None else value for key, value in row.items()}
                for row in values["environments"]
            ],
        }

    def redraw(self, operation: str) -> dict:
        initial = super().redraw(operation)
        if operation == "strategy" and initial.get("strategy") in Strategy.values:
            strategy = initial["strategy"]
            defaults = self.initial_from_values(
                {"strategy": strategy, "strategy_params": DEFAULT_PARAMS[strategy]}
                | {"environments": []},
                draft_data={},
            )
            for field in self.PARAMS[strategy]:
                if initial.get(field) is None:
                    initial[field] = defaults[field]
            if strategy == Strategy.CANARY and not initial.get("canary"):
                initial["canary"] = defaults["canary"]
        return initial

    def new_row(self, formset: str) -> dict:
        if formset == "canary":
            return {"type": "set_weight", "value": ""}
        return {"kind": EnvironmentKind.DEVELOPMENT}


class OperationsForm(StepForm):
    step = Step.OPERATIONS
    formsets = {"links": LinkFormSet}
    sections = ("links",)

    runbook_url = HttpUrlField(
        label="Runbook URL", required=False, help_text="The scorecard's Bronze level asks for it."
    )
    on_call = forms.CharField(
        label="On call",
        required=False,
        max_length=200,
        help_text="A rota, pager or channel. The scorecard's Bronze level asks for it.",
    )

    def values(self) -> dict:
        links = [
            {"title": row.cleaned_data["title"], "url": row.cleaned_data["url"]}
            for row in self.rows["links"].forms
            if not row.is_blank()
        ]
        return {**self.cleaned_data, "links": links}

    @classmethod
    def initial_from_values(cls, values, *, draft_data):
        if values is None:
            return {"links": [{"title": "", "url": ""}]}
        return dict(values)


STEP_FORMS: dict[Step, type[StepForm]] = {
    form.step: form for form in (BasicsForm, RuntimeForm, DeliveryForm, OperationsForm)
}


def form_for_draft(step: Step, *, user, draft_data: dict, bound: bool = False) -> StepForm:
    """The step's form showing what the draft holds (or its defaults). Bound, it is checked and
    ready to carry the catalog's errors."""
    form_class = STEP_FORMS[step]
    left = draft_data.get(LEFT_KEY, {}).get(step)
    if left is not None and not bound:  # left by Back, not yet valid: shown as it was typed
        return form_class(user=user, initial=left)
    initial = form_class.initial_from_values(draft_data.get(step), draft_data=draft_data)
    if bound:
        form = form_class(form_class.post_from_initial(initial), user=user)
        form.is_valid()
        return form
    return form_class(user=user, initial=initial)


def form_redrawn(step: Step, post, *, user) -> StepForm:
    """The step's form as posted, after an edit that is not a submit, without its errors."""
    form_class = STEP_FORMS[step]
    posted = form_class(user=user, initial=form_class.initial_from_post(post))
    return form_class(user=user, initial=posted.redraw(post.get("op", "")))

from django import forms

from apps.trains.models import MAX_MEMBERS, RollbackPolicy


def parse_members(text: str) -> list[dict]:
    """One member a line: the service's name and its version (image reference)."""
    members = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise forms.ValidationError(
                f"Line {number}: write the service's name and its version, e.g. "
                "“web registry/web:1.4.0”."
            )
        members.append({"service": words[0], "version": words[1]})
    return members


class TrainPlanForm(forms.Form):
    environment_name = forms.CharField(max_length=63, label="Environment", initial="prod")
    members = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=f"One member a line: service and version. 2 to {MAX_MEMBERS} services.",
    )

    def clean_members(self) -> list[dict]:
        return parse_members(self.cleaned_data["members"])


class TrainForm(TrainPlanForm):
    name = forms.CharField(max_length=200)
    planned_start = forms.DateTimeField(help_text="UTC, e.g. 2026-12-07 10:00")
    planned_end = forms.DateTimeField(help_text="UTC")
    max_parallel = forms.IntegerField(
        min_value=1, max_value=MAX_MEMBERS, initial=5, label="At most in parallel per wave"
    )
    rollback_policy = forms.ChoiceField(choices=RollbackPolicy.choices)

    field_order = [
        "name",
        "environment_name",
        "planned_start",
        "planned_end",
        "max_parallel",
        "rollback_policy",
        "members",
    ]

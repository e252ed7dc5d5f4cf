from django import forms

from apps.insights.models import Level


class ScorecardRuleForm(forms.Form):
    level = forms.TypedChoiceField(
        choices=[choice for choice in Level.choices if choice[0] != Level.NONE], coerce=int
    )
    is_enabled = forms.BooleanField(required=False, label="Counts")

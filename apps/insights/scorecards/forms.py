from django import forms

from apps.insights.models import Level

# The levels a rule may ask for: every level but none.
LEVEL_CHOICES = [choice for choice in Level.choices if choice[0] != Level.NONE]


class ScorecardRuleForm(forms.Form):
    level = forms.TypedChoiceField(choices=LEVEL_CHOICES, coerce=int)
    is_enabled = forms.BooleanField(required=False, label="Counts")

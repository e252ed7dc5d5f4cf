"""Scorecards in the browser: the rules page (admins change levels and switch rules off)."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST, require_safe

from apps.accounts import permissions
from apps.core.http import AuthenticatedRequest
from apps.insights.scorecards import selectors, services
from apps.insights.scorecards.forms import LEVEL_CHOICES, ScorecardRuleForm
from apps.insights.scorecards.rules import RULES_BY_KEY


def _context(request: AuthenticatedRequest) -> dict:
    return {
        "rules": selectors.rule_summaries(),
        "can_manage": permissions.can_manage_scorecards(request.user),
        "level_choices": LEVEL_CHOICES,
    }


@require_safe
@permissions.rule_required(permissions.can_view_reports)
def rule_list(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "insights/scorecards/rules.html", _context(request))


@require_POST
@permissions.rule_required(permissions.can_manage_scorecards)
def rule_update(request: AuthenticatedRequest, key: str) -> HttpResponse:
    if key not in RULES_BY_KEY:
        raise Http404("No such rule.")
    form = ScorecardRuleForm(request.POST)
    if form.is_valid():
        services.scorecard_rule_update(actor=request.user, key=key, **form.cleaned_data)
        messages.success(request, "Rule saved. Every scorecard is being evaluated again.")
    else:
        messages.error(request, "Choose Bronze, Silver or Gold.")
    if not request.htmx:
        return redirect("insights:scorecard-rules")
    context = _context(request)
    row = next(row for row in context["rules"] if row["key"] == key)
    return render(request, "insights/scorecards/partials/_rule_row.html", {**context, "row": row})


urlpatterns = [
    path("scorecards/rules/", rule_list, name="scorecard-rules"),
    path("scorecards/rules/<slug:key>/", rule_update, name="scorecard-rule-update"),
]

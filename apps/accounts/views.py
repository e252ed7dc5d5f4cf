from copy import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts import permissions, selectors, services
from apps.accounts.forms import (
    AliasForm,
    ApiTokenForm,
    MemberAddForm,
    RoleForm,
    TeamForm,
    TimeZoneForm,
)
from apps.accounts.models import Role, Team, User
from apps.core.forms import add_service_errors
from apps.core.http import AuthenticatedRequest


@require_safe
def profile(request: AuthenticatedRequest) -> HttpResponse:
    return render(
        request,
        "accounts/profile.html",
        {
            "summary": selectors.user_profile_summary(user=request.user),
            "tokens": selectors.api_tokens_of(user=request.user),
            "token_form": ApiTokenForm(),
            "tz_form": TimeZoneForm(initial={"time_zone": request.user.time_zone}),
            "aliases": request.user.aliases.all(),
            "alias_form": AliasForm(),
        },
    )


@require_POST
def alias_add(request: AuthenticatedRequest) -> HttpResponse:
    form = AliasForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors)
        alias = services.alias_add(actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{alias.value} is listed as yours.")
    return redirect("accounts:profile")


@require_POST
def alias_remove(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    alias = get_object_or_404(request.user.aliases.all(), pk=pk)
    services.alias_remove(actor=request.user, alias=alias)
    messages.success(request, f"{alias.value} is no longer listed as yours.")
    return redirect("accounts:profile")


@require_POST
def time_zone_update(request: AuthenticatedRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST)
    if form.is_valid():
        services.user_time_zone_set(actor=request.user, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, "Time zone saved.")
    else:
        messages.error(request, "Choose a time zone from the list.")
    return redirect("accounts:profile")


@require_POST
def token_create(request: AuthenticatedRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST)
    new_key = None
    if form.is_valid():
        _, new_key = services.api_token_create(actor=request.user, **form.cleaned_data)
        form = ApiTokenForm()
    return render(
        request,
        "accounts/partials/_tokens.html",
        {
            "tokens": selectors.api_tokens_of(user=request.user),
            "token_form": form,
            "new_key": new_key,
        },
    )


@require_POST
def token_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    token = permissions.get_visible_or_404(selectors.api_tokens_of(user=request.user), pk=pk)
    services.api_token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return render(
        request,
        "accounts/partials/_tokens.html",
        {"tokens": selectors.api_tokens_of(user=request.user), "token_form": ApiTokenForm()},
    )


@require_safe
def team_list(request: AuthenticatedRequest) -> HttpResponse:
    return render(
        request,
        "accounts/team_list.html",
        {"teams": selectors.team_list(), "can_manage": permissions.can_manage_teams(request.user)},
    )


@require_http_methods(["GET", "POST"])
@permissions.rule_required(permissions.can_manage_teams)
def team_create(request: AuthenticatedRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Team {team.name} created.")
            return redirect("accounts:team-detail", slug=team.slug)
    return render(request, "accounts/team_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@permissions.rule_required(permissions.can_manage_teams)
def team_edit(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(Team.objects.all(), slug=slug)
    # A copy: the form writes what was posted into its instance, the page keeps the saved name.
    form = TeamForm(request.POST or None, instance=copy(team))
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_update(actor=request.user, team=team, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Team {team.name} saved.")
            return redirect("accounts:team-detail", slug=team.slug)
    return render(request, "accounts/team_form.html", {"form": form, "team": team})


@require_safe
def team_detail(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(selectors.team_detail_queryset(), slug=slug)
    return render(request, "accounts/team_detail.html", _team_context(request, team))


@require_POST
@permissions.rule_required(permissions.can_manage_teams)
def team_member_add(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(selectors.team_detail_queryset(), slug=slug)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        services.team_member_add(actor=request.user, team=team, user=form.cleaned_data["username"])
        messages.success(request, f"{form.cleaned_data['username']} added to {team.name}.")
        form = MemberAddForm()
    team = selectors.team_detail_queryset().get(pk=team.pk)
    return render(
        request, "accounts/partials/_members.html", _team_context(request, team, member_form=form)
    )


@require_POST
@permissions.rule_required(permissions.can_manage_teams)
def team_member_remove(request: AuthenticatedRequest, slug: str, user_id: int) -> HttpResponse:
    team = get_object_or_404(selectors.team_detail_queryset(), slug=slug)
    user = get_object_or_404(User, pk=user_id)
    services.team_member_remove(actor=request.user, team=team, user=user)
    messages.success(request, f"{user.username} removed from {team.name}.")
    team = selectors.team_detail_queryset().get(pk=team.pk)
    return render(request, "accounts/partials/_members.html", _team_context(request, team))


def _team_context(request, team, member_form=None) -> dict:
    return {
        "team": team,
        "can_manage": permissions.can_manage_teams(request.user),
        "member_form": member_form or MemberAddForm(),
    }


@require_safe
@permissions.rule_required(permissions.is_platform_admin)
def people(request: AuthenticatedRequest) -> HttpResponse:
    return render(
        request, "accounts/people.html", {"users": selectors.user_list(), "role_form": RoleForm()}
    )


@require_POST
@permissions.rule_required(permissions.is_platform_admin)
def user_role_change(request: AuthenticatedRequest, user_id: int, action: str) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    form = RoleForm(request.POST)
    chosen = ""
    if form.is_valid():
        chosen = form.cleaned_data["role"]
        try:
            if action == "grant":
                services.role_grant(actor=request.user, user=user, role=chosen)
                messages.success(request, f"{Role(chosen).label} granted to {user.username}.")
            elif services.role_revoke(actor=request.user, user=user, role=chosen):
                messages.success(request, f"{Role(chosen).label} taken from {user.username}.")
            else:
                messages.info(request, f"{user.username} does not hold {Role(chosen).label}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Choose a role from the list.")
    user = selectors.user_list().get(pk=user.pk)
    # The row is drawn again with the role still chosen, to try again or act on the next.
    context = {"u": user, "role_form": RoleForm(), "chosen_role": chosen}
    return render(request, "accounts/partials/_user_row.html", context)

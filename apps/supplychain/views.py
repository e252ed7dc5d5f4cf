"""Pages of supply-chain trust: the keys, policies and suppressions Runway trusts (platform admins
add and revoke keys here), and the evidence uploaded for one artifact."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts import permissions
from apps.core.forms import add_service_errors
from apps.core.http import AuthenticatedRequest
from apps.supplychain import selectors, services
from apps.supplychain.forms import RevokeForm, TrustedKeyForm, TrustPolicyForm
from apps.supplychain.models import TrustedKey, TrustPolicy
from apps.supplychain.verification.digests import DIGEST


@require_http_methods(["GET", "POST"])
def trust(request: AuthenticatedRequest) -> HttpResponse:
    can_manage = permissions.can_manage_trust(request.user)
    form = TrustedKeyForm(request.POST or None)
    if request.method == "POST":
        permissions.require(can_manage, services.REFUSED)
        if form.is_valid():
            try:
                key = services.trusted_key_add(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{key.name} is trusted.")
                return redirect("supplychain:trust")
    return render(
        request,
        "supplychain/trust.html",
        {
            "keys": selectors.trusted_key_list(),
            "policies": selectors.trust_policy_list(),
            "suppressions": selectors.suppression_list(),
            "can_manage": can_manage,
            "form": form,
            "now": timezone.now(),
        },
    )


@require_POST
def key_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    permissions.require(permissions.can_manage_trust(request.user), services.REFUSED)
    key = get_object_or_404(TrustedKey, pk=pk)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the key is revoked, in 10 characters or more.")
        return redirect("supplychain:trust")
    try:
        services.trusted_key_revoke(actor=request.user, key=key, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{key.name} is revoked: its signatures count for nothing.")
    return redirect("supplychain:trust")


@require_safe
def artifact(request: AuthenticatedRequest, digest: str) -> HttpResponse:
    if not DIGEST.fullmatch(digest):
        raise Http404("Not a digest: sha256: and 64 lower-case hex digits.")
    return render(
        request,
        "supplychain/artifact.html",
        {"digest": digest, "evidence": selectors.artifact_evidence(digest, now=timezone.now())},
    )


@require_http_methods(["GET", "POST"])
def policy_create(request: AuthenticatedRequest) -> HttpResponse:
    permissions.require(permissions.can_manage_trust(request.user), services.REFUSED)
    form = TrustPolicyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        keys = [key.name for key in fields.pop("keys")]
        try:
            policy = services.trust_policy_create(actor=request.user, key_names=keys, **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Trust policy “{policy.name}” made.")
            return redirect("supplychain:trust")
    return render(request, "supplychain/policy_form.html", {"form": form})


@require_POST
def policy_switch(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Switch a policy on or off (`active` is "on" or "off")."""
    permissions.require(permissions.can_manage_trust(request.user), services.REFUSED)
    policy = get_object_or_404(TrustPolicy, pk=pk)
    active = request.POST.get("active") == "on"
    try:
        services.trust_policy_update(actor=request.user, policy=policy, is_active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“{policy.name}” is {'on' if active else 'off'}.")
    return redirect("supplychain:trust")

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from apps.accounts.models import ApiToken, RoleGrant, Team, TeamMembership, User
from apps.audit.admin import AuditedModelAdmin


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    extra = 0


@admin.register(User)
class UserAdmin(AuditedModelAdmin, BaseUserAdmin):
    """Service accounts are made with `manage.py service_account_create` or the API (audited,
    with their first token); here an admin sees them, rescopes their teams or deactivates one,
    which revokes its tokens."""

    inlines = [RoleGrantInline]
    # The stubs leave list_display an instance variable, so reading it from the class is flagged.
    list_display = [*BaseUserAdmin.list_display, "is_service_account"]  # type: ignore[misc]
    list_filter = [*BaseUserAdmin.list_filter, "is_service_account"]
    readonly_fields = ["is_service_account"]
    filter_horizontal = [*BaseUserAdmin.filter_horizontal, "reports_checks_for"]
    fieldsets = [
        *(BaseUserAdmin.fieldsets or ()),
        ("Runway", {"fields": ["time_zone"]}),
        ("CI identity", {"fields": ["is_service_account", "reports_checks_for"]}),
    ]


class MembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    list_display = ["name", "user", "key_hint", "created_at", "expires_at", "revoked_at"]
    list_filter = ["user__is_service_account"]
    readonly_fields = ["key_hash", "key_hint", "last_used_at"]

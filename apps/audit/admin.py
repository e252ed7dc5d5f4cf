from django.contrib import admin

from apps.audit.checkpoints import checkpoint_matches, recent_checkpoints
from apps.audit.models import AuditEvent, AuditPending, AuditSeal
from apps.audit.services import audit_record


class AuditedModelAdmin(admin.ModelAdmin):
    """Changes made in Django's admin go into the audit log like any other change."""

    def log_addition(self, request, obj, message):
        audit_record(actor=request.user, action="admin.add", target=obj, after={"message": message})
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_record(
            actor=request.user, action="admin.change", target=obj, after={"message": message}
        )
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_record(actor=request.user, action="admin.delete", target=obj)
        return super().log_deletions(request, queryset)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "actor_label", "action", "target_type", "target_id", "seal"]
    list_filter = ["action", "target_type"]
    list_select_related = ["seal"]
    search_fields = ["actor_label", "action", "target_id", "target_label", "request_id"]
    change_list_template = "admin/audit/auditevent/change_list.html"

    def changelist_view(self, request, extra_context=None):
        """The chain's latest signed checkpoints above the log: each signed with a key Runway
        holds and still matching the chain, or not (`manage.py audit_verify` says more)."""
        checkpoints = recent_checkpoints(10)
        matches = checkpoint_matches(checkpoints)
        extra_context = {
            **(extra_context or {}),
            "checkpoints": [(c, c.signed, matches[c.seq]) for c in checkpoints],
            "head": AuditSeal.objects.order_by("-seq").first(),
            "pending": AuditPending.objects.count(),
        }
        return super().changelist_view(request, extra_context)


@admin.register(AuditSeal)
class AuditSealAdmin(ReadOnlyAdmin):
    list_display = ["seq", "event", "key_id", "mac", "sealed_at"]
    list_select_related = ["event"]

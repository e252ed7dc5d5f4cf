from django.contrib import admin

from apps.audit.models import AuditEvent
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


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "actor_label", "action", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_label", "action", "target_id", "target_label", "request_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

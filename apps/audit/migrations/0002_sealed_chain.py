"""The chain moves from an unkeyed hash on each event to keyed seals written after commit, and
on PostgreSQL the log's tables refuse UPDATE, DELETE and TRUNCATE."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from apps.audit.chain import GENESIS, seal_mac, signing_key_id

_TABLES = ("audit_auditevent", "audit_auditseal")

# Only the tables' owner, who could drop the trigger anyway, may truncate, and only on purpose
# (SET runway.audit_truncate = 'on'): test databases are emptied that way between tests.
_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION runway_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE'
     AND current_setting('runway.audit_truncate', true) = 'on'
     AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')
  THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'the audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def seal_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditSeal = apps.get_model("audit", "AuditSeal")
    key_id, prev_mac, seals = signing_key_id(), GENESIS, []
    for seq, event in enumerate(AuditEvent.objects.order_by("id").iterator(), start=1):
        mac = seal_mac(event, seq=seq, prev_mac=prev_mac, key_id=key_id)
        seals.append(AuditSeal(seq=seq, event=event, key_id=key_id, prev_mac=prev_mac, mac=mac))
        prev_mac = mac
    AuditSeal.objects.bulk_create(seals, batch_size=2000)


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite (development) has the ORM's refusals only
    schema_editor.execute(_APPEND_ONLY, params=None)
    for table in _TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION runway_audit_append_only()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION runway_audit_append_only()"
        )


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in _TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS runway_audit_append_only()")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                ("seq", models.BigIntegerField(primary_key=True, serialize=False)),
                ("key_id", models.CharField(max_length=16)),
                ("prev_mac", models.CharField(max_length=64)),
                ("mac", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="seal",
                        to="audit.auditevent",
                    ),
                ),
            ],
            options={"ordering": ["seq"]},
        ),
        migrations.CreateModel(
            name="AuditPending",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="audit.auditevent",
                    ),
                ),
            ],
        ),
        migrations.RunPython(seal_existing_events, migrations.RunPython.noop),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.RemoveField(model_name="auditevent", name="prev_hash"),
        migrations.RunPython(install_triggers, remove_triggers),
    ]

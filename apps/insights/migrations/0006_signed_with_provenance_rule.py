from django.db import migrations


def add_rule(apps, schema_editor):
    rule = apps.get_model("insights", "ScorecardRule")
    rule.objects.bulk_create([rule(key="signed_with_provenance", level=3)], ignore_conflicts=True)


def remove_rule(apps, schema_editor):
    apps.get_model("insights", "ScorecardRule").objects.filter(
        key="signed_with_provenance"
    ).delete()


class Migration(migrations.Migration):
    """The Gold rule "Signed with provenance", at its default level like the rules before it."""

    dependencies = [
        ("insights", "0005_recorded_release_transitions"),
    ]

    operations = [migrations.RunPython(add_rule, remove_rule)]

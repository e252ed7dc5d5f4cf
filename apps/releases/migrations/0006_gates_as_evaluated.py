from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("releases", "0005_freeze_recurrence_and_soft_delete"),
    ]

    operations = [
        migrations.AddField(
            model_name="approval",
            name="gates",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The gates as evaluated when the decision was made.",
            ),
        ),
        migrations.AddField(
            model_name="approval",
            name="risks_confirmed",
            field=models.JSONField(
                blank=True, default=list, help_text="Failing gates the approver confirmed by name."
            ),
        ),
        migrations.AddField(
            model_name="releasetransition",
            name="gates",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The gates as evaluated for this move (a start).",
            ),
        ),
    ]

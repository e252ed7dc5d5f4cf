import django.db.models.deletion
from django.db import migrations, models
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat

FINISHING = ["succeeded", "failed", "rolled_back"]


def mark_the_recorded(apps, schema_editor):
    """Finishing transitions of releases that already have their fact were recorded by the road
    before this one: mark them, so the repair job does not take them in again."""
    ReleaseTransition = apps.get_model("releases", "ReleaseTransition")
    DeploymentFact = apps.get_model("insights", "DeploymentFact")
    Recorded = apps.get_model("insights", "RecordedReleaseTransition")
    has_fact = DeploymentFact.objects.filter(
        source="runway",
        external_id=Concat(
            Value("release/"), Cast(OuterRef("release_id"), CharField()), output_field=CharField()
        ),
    )
    recorded = (
        ReleaseTransition.objects.filter(to_state__in=FINISHING)
        .filter(Exists(has_fact))
        .values_list("pk", flat=True)
    )
    Recorded.objects.bulk_create(
        (Recorded(transition_id=pk) for pk in recorded.iterator(chunk_size=2000)),
        batch_size=2000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0004_incident_start_known"),
        ("releases", "0004_break_glass"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecordedReleaseTransition",
            fields=[
                (
                    "transition",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="releases.releasetransition",
                    ),
                ),
                ("recorded_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.RunPython(mark_the_recorded, migrations.RunPython.noop),
    ]

"""Trigram indexes for the catalog search (`q`, apps/catalog/filters.py): a substring search
over 10,000 services read every row; with these it reads the few that match.

PostgreSQL only. The expressions are those Django writes for `icontains` there, UPPER(column),
so the planner matches them. SQLite (development) searches without an index, as before."""

from django.db import migrations

# (index, table, column)
_INDEXES = [
    ("service_name_trgm_idx", "catalog_service", "name"),
    ("service_title_trgm_idx", "catalog_service", "title"),
    ("service_description_trgm_idx", "catalog_service", "description"),
    ("tag_name_trgm_idx", "catalog_tag", "name"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for index, table, column in _INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {index} ON {table} USING gin (UPPER({column}) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for index, _, _ in _INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")
    # The extension stays: other database objects may use it by now.


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_service_pipeline_template"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]

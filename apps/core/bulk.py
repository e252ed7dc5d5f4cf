"""Saving the same fields of many rows at once."""

from collections.abc import Sequence

from django.db import connections, models, router


def bulk_save(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Save `fields` of model instances of one model, as bulk_update would, with one UPDATE
    statement sent once for all the rows (psycopg pipelines executemany): bulk_update builds a
    CASE for each row and field, which Django is slow to build (200 releases, five fields:
    161 ms, and 34 ms this way). Like bulk_update, no signals are sent and `auto_now` fields
    are not touched."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    concrete = {field.name: field for field in meta.concrete_fields}
    columns = [concrete[name] for name in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 (quoted names)
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns]
        + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)

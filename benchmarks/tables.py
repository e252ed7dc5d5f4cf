"""COPY rows into the tables of Django models, with table and column names read from the models'
_meta, so the loader follows the schema instead of drifting from it.

A generator names the fields it fills; every other concrete field gets its default (auto_now
fields: the load's "now"; nullable fields: NULL). A NOT NULL field without a default that the
generator does not fill is an error that names it, so a new required column fails loudly."""

import json
from collections.abc import Iterable
from datetime import datetime

from django.db import models
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter


def _column_field(field: object) -> models.Field:
    if not isinstance(field, models.Field):
        raise ValueError(f"{field} is a relation seen from the other side, not a column")
    return field


def _column(field: models.Field) -> str:
    if field.column is None:
        raise ValueError(f"{field} has no column of its own")
    return field.column


class MissingValue(Exception):
    pass


def _default_for(field: models.Field, now: datetime):
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        value = field.get_default()
        if isinstance(field, models.JSONField):
            return json.dumps(value)
        return value
    if field.null:
        return None
    if isinstance(field, models.CharField | models.TextField) and field.blank:
        return ""
    raise MissingValue(f"{field.model._meta.label}.{field.name} needs a value from the loader")


class Table:
    """One model's table: `fields` in the order the generator's row tuples give them."""

    def __init__(self, model: type[models.Model], fields: list[str], *, now: datetime):
        meta = model._meta
        self.model = model
        self.name = meta.db_table
        given = [_column_field(meta.get_field(name)) for name in fields]
        rest = [
            f
            for f in meta.concrete_fields
            if f not in given and not (f.primary_key and isinstance(f, models.AutoField))
        ]
        self.columns = [_column(f) for f in given] + [_column(f) for f in rest]
        self.tail = tuple(_default_for(f, now) for f in rest)
        self.rows = 0

    def copy(self, connection, rows: Iterable[tuple]) -> int:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(self.name), sql.SQL(", ").join(map(sql.Identifier, self.columns))
        )
        tail, count = self.tail, 0
        # A writer thread hands the data to PostgreSQL while this one generates the next rows.
        with (
            connection.cursor() as cursor,
            cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy,
        ):
            if tail:
                for row in rows:
                    copy.write_row(row + tail)
                    count += 1
            else:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        self.rows += count
        return count


def through_table(relation) -> type[models.Model]:
    return relation.through

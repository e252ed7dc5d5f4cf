"""GET /api/v1/services/export: every service (or those the catalog filters select) as
newline-delimited JSON, one object per line with the fields of the list API, streamed.

Rows come from a server-side cursor in chunks, so memory stays flat however big the catalog is,
and the first bytes leave before the last rows are read. With `Accept-Encoding: gzip` the stream
is compressed as it goes. Under ASGI the body is an asynchronous iterator whose every chunk is
read in the request's thread (Django would otherwise read a synchronous iterator to the end
before sending anything)."""

import json
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from itertools import islice
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from apps.catalog.models import Service

CHUNK_ROWS = 2000  # rows per fetch from the server-side cursor (and per tags query)
LINES_PER_PART = 500  # rows per piece of the response body
COLUMNS = (
    "id", "name", "title", "description", "owner__slug", "system__name", "type", "lifecycle",
    "tier", "language", "repository_url", "strategy", "template__name", "template__version",
    "updated_at",
)  # fmt: skip

_T = TypeVar("_T")


def _stamp(value) -> str:
    """As the list API writes a time: ISO 8601, UTC as Z."""
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _batched(rows: Iterator[_T], size: int) -> Iterator[list[_T]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _tags_of(service_ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = defaultdict(list)
    rows = (
        Service.tags.through.objects.filter(service_id__in=service_ids)
        .order_by("tag__name")
        .values_list("service_id", "tag__name")
    )
    for service_id, name in rows:
        tags[service_id].append(name)
    return tags


# {ids}: the filtered services' ids, the catalog filters' own query. The tags are aggregated
# once, in a join, rather than by a subquery per service; the rows are sorted before each is
# turned into JSON, so the sort moves a few short columns and not 10,000 lines of text.
_LINES_SQL = """
SELECT row_to_json(line)::text FROM (
    SELECT s.name, s.title, s.description, o.slug AS owner, y.name AS system, s.type,
        s.lifecycle, s.tier, s.language, s.repository_url, s.strategy,
        CASE WHEN g.id IS NULL THEN NULL ELSE g.name || ' v' || g.version::text END AS template,
        COALESCE(t.names, ARRAY[]::varchar[]) AS tags, s.updated_at
    FROM catalog_service s
    JOIN accounts_team o ON o.id = s.owner_id
    LEFT JOIN catalog_system y ON y.id = s.system_id
    LEFT JOIN catalog_goldenpathtemplate g ON g.id = s.template_id
    LEFT JOIN (
        SELECT st.service_id, array_agg(tag.name ORDER BY tag.name) AS names
        FROM catalog_service_tags st JOIN catalog_tag tag ON tag.id = st.tag_id
        WHERE st.service_id IN ({ids})
        GROUP BY st.service_id
    ) t ON t.service_id = s.id
    WHERE s.id IN ({ids})
    ORDER BY s.name
) line
"""


def _json_lines_from_database(queryset: QuerySet) -> Iterator[bytes]:
    """PostgreSQL writes each line itself (row_to_json, in the list API's field order): the
    fastest way to turn 10,000 rows into JSON is not to bring them into Python as rows at all."""
    ids, params = queryset.order_by().values("pk").query.sql_with_params()
    statement = _LINES_SQL.format(ids=ids)  # only the ORM's own SQL; values stay parameters
    # A server-side cursor, read in parts, as QuerySet.iterator() reads one.
    with connection.chunked_cursor() as cursor:
        cursor.execute(statement, params * 2)
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            for start in range(0, len(chunk), LINES_PER_PART):
                part = chunk[start : start + LINES_PER_PART]
                yield ("\n".join(line for (line,) in part) + "\n").encode()


def _lines(queryset: QuerySet) -> Iterator[bytes]:
    if connection.vendor == "postgresql":
        yield from _json_lines_from_database(queryset)
        return
    rows = queryset.order_by("name").values_list(*COLUMNS).iterator(chunk_size=CHUNK_ROWS)
    for chunk in _batched(rows, CHUNK_ROWS):
        tags = _tags_of([row[0] for row in chunk])
        for start in range(0, len(chunk), LINES_PER_PART):
            lines = []
            for row in chunk[start : start + LINES_PER_PART]:
                (pk, name, title, description, owner, system, type_, lifecycle, tier, language,
                 repository, strategy, template, version, updated) = row  # fmt: skip
                lines.append(
                    json.dumps(
                        {
                            "name": name,
                            "title": title,
                            "description": description,
                            "owner": owner,
                            "system": system,
                            "type": type_,
                            "lifecycle": lifecycle,
                            "tier": tier,
                            "language": language,
                            "repository_url": repository,
                            "strategy": strategy,
                            "template": f"{template} v{version}" if template else None,
                            "tags": tags.get(pk, []),
                            "updated_at": _stamp(updated),
                        },
                        separators=(",", ":"),
                        ensure_ascii=False,
                    )
                )
            yield ("\n".join(lines) + "\n").encode()


def _gzipped(parts: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    for part in parts:
        compressed = compressor.compress(part)
        if compressed:
            yield compressed
    yield compressor.flush()


async def _in_request_thread(parts: Iterator[bytes]) -> AsyncIterator[bytes]:
    take = sync_to_async(lambda: next(parts, None))
    while (part := await take()) is not None:
        yield part


def wants_gzip(request) -> bool:
    """Accept-Encoding names gzip with a quality above zero."""
    for coding in request.META.get("HTTP_ACCEPT_ENCODING", "").split(","):
        name, *params = (piece.strip().lower() for piece in coding.split(";"))
        if name != "gzip":
            continue
        quality = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            return float(quality) > 0
        except ValueError:
            return False
    return False


def export_response(request, queryset: QuerySet) -> StreamingHttpResponse:
    parts = _lines(queryset)
    gzip = wants_gzip(request)
    if gzip:
        parts = _gzipped(parts)
    django_request = getattr(request, "_request", request)
    body = _in_request_thread(parts) if isinstance(django_request, ASGIRequest) else parts
    response = StreamingHttpResponse(body, content_type="application/x-ndjson")
    response["Content-Disposition"] = 'inline; filename="services.ndjson"'
    if gzip:
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response

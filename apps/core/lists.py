"""One way to show a filtered list, after NetBox's ObjectListView: the FilterSet the API shares
narrows a selector's queryset, one page of it is shown, and htmx gets only the list part."""

from collections.abc import Callable

import django_filters
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse

from apps.core.htmx import render_page_or_partial
from apps.core.http import RunwayRequest


def render_filtered_list(
    request: RunwayRequest,
    *,
    queryset: QuerySet,
    filterset_class: type[django_filters.FilterSet],
    page_size: int,
    template: str,
    partial_template: str,
    extra_context: Callable[[django_filters.FilterSet], dict] | None = None,
    decorate: Callable[[list], object] | None = None,
) -> HttpResponse:
    """The page (or for htmx its partial) with `filter`, `page` and `query`: the request's query
    string without `page`, which the pager (templates/partials/_pager.html) adds to its links.
    `extra_context(filterset)` adds what the page shows besides, such as counts of the rows; a
    `row_count` in it (the rows' number, found with those counts) spares the pager its COUNT.
    `decorate(rows)` adds to the page's rows what the queryset cannot, in a few queries."""
    filterset = filterset_class(request.GET, queryset=queryset, request=request)
    extra = extra_context(filterset) if extra_context is not None else {}
    paginator = Paginator(filterset.qs, page_size)
    if "row_count" in extra:
        paginator.count = extra.pop("row_count")  # the cached_property's value, given
    page = paginator.get_page(request.GET.get("page"))
    if decorate is not None:
        page.object_list = list(page.object_list)
        decorate(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "query": query.urlencode(), **extra}
    return render_page_or_partial(request, page=template, partial=partial_template, context=context)

"""The leadership reports: organisation, team and service dashboards, and their CSV.

Read-only pages (GET and HEAD), open to whoever may view reports. The window comes from
`?from=&to=` (or a preset `?days=30|90|180|365`; default the last 90 days); a bad window is
answered 400 with the page and the field's error. The figures come from the selectors through
apps.insights.exports, which the CSV downloads use too.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, partial

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.catalog.models import Service
from apps.core import parallel
from apps.core.http import AuthenticatedRequest
from apps.insights import exports, selectors
from apps.insights.exports import ORG, SERVICE, TEAM, Scope

PRESETS = (30, 90, 180, 365)


class WindowForm(forms.Form):
    """`from` and `to` (days in TIME_ZONE, both included), or a preset number of days ending
    today. Dates win over a preset; the selectors' own rules (order, longest window) apply."""

    days = forms.TypedChoiceField(
        choices=[(n, f"Last {n} days") for n in PRESETS],
        coerce=int,
        required=False,
        empty_value=None,
        label="Preset",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # `from` is a Python keyword: the date fields are added by name.
        date_input = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["from"] = forms.DateField(required=False, label="From", widget=date_input)
        self.fields["to"] = forms.DateField(required=False, label="To", widget=date_input)
        self.order_fields(["from", "to", "days"])

    def clean(self):
        super().clean()
        data = self.cleaned_data
        start, end, days = data.get("from"), data.get("to"), data.get("days")
        if self.errors:
            return data
        if start is None and end is None and days:
            end = selectors.local_day(timezone.now())
            start = end - timedelta(days=days - 1)
        try:
            data["start"], data["end"] = selectors.dora_window(start, end)
        except ValidationError as exc:
            # The selector speaks of start and end; the page of `from` and `to`.
            errors = exc.message_dict
            self.add_error("from", errors.get("start", []) + errors.get("end", []))
        return data


@dataclass(frozen=True)
class Window:
    start: date
    end: date
    days: int | None  # the preset in use, if any

    @cached_property
    def query(self) -> str:
        """The window as a query string, for links that keep it (drill-down, CSV, sorting): read
        once per link, hundreds of times a page."""
        return urlencode({"from": self.start.isoformat(), "to": self.end.isoformat()})

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1


def _window(request: AuthenticatedRequest) -> tuple[WindowForm, Window | None]:
    form = WindowForm(request.GET)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    dates_given = data.get("from") is not None or data.get("to") is not None
    preset = None if dates_given else data.get("days") or selectors.DEFAULT_WINDOW_DAYS
    window = Window(start=data["start"], end=data["end"], days=preset)
    # The form as it now stands: the dates the report is for.
    return WindowForm(initial={"from": window.start, "to": window.end}), window


def _report_page(
    request: AuthenticatedRequest, template: str, scope_of: Callable[[Window], Scope], context: dict
) -> HttpResponse:
    """Render one report page: the window, then the sources its sections need."""
    form, window = _window(request)
    context = {**context, "window_form": form, "presets": PRESETS, "now": timezone.now()}
    if window is None:
        return render(request, template, context, status=400)
    scope = scope_of(window)
    sort = request.GET.get("sort", "")
    context.update(window=window, scope=scope, **_sections(scope, sort, request.GET.get("page")))
    return render(request, template, context)


# The one table of each page that sorts by ?sort= (the others keep their own order).
SORTED_TABLE = {ORG: "teams", TEAM: "services"}
# The organisation's teams table is shown a page (?page=) at a time, and its level chart draws
# the same teams: their sources are not loaded whole for the page (the CSV still has them all).
PAGED_SOURCES = {ORG: {"teams", "levels"}}
TEAM_PAGE = "team_page"


def _sections(scope: Scope, sort: str, page: str | None) -> dict:
    """Every source the page's sections need, loaded once, and its tables' rows."""
    skipped = PAGED_SOURCES.get(scope.level, set())
    tables = [table for table in exports.tables_for(scope.level) if table.source not in skipped]
    # The sources and the teams' page are independent reads: they overlap (apps/core/parallel).
    calls = exports.loaders(["dora", *(table.source for table in tables)], scope)
    if "teams" in skipped:
        calls[TEAM_PAGE] = partial(exports.team_page, scope, sort, page)
    sources = parallel.gather(calls)
    shown = {}
    for table in tables:
        wanted = sort if SORTED_TABLE.get(scope.level) == table.name else ""
        rows, applied = exports.sort_rows(table, table.rows(sources[table.source]), wanted)
        shown[table.name] = {"table": table, "rows": rows, "sort": applied}
    level_rows = sources.get("levels", [])
    if "teams" in skipped:
        teams, applied = sources.pop(TEAM_PAGE)
        shown["teams"] = {
            "table": exports.TABLES["teams"],
            "rows": teams.object_list,
            "sort": applied,
            "page": teams,
            # The pager's links keep the window and the order.
            "query": urlencode(
                {"from": scope.start.isoformat(), "to": scope.end.isoformat()}
                | ({"sort": applied} if applied else {})
            ),
        }
        level_rows = [
            {"team": row.slug, "team_name": row.name, "levels": row.level_counts}
            for row in teams.object_list
        ]
    return {
        "report": sources["dora"],
        "sources": sources,
        "tables": shown,
        "level_rows": level_rows,
    }


# --- Subjects: what a page (and its CSV) is about --------------------------------------------


def _organisation() -> tuple[Callable[[Window], Scope], dict]:
    return (lambda w: Scope(level=ORG, start=w.start, end=w.end)), {}


def _team(slug: str) -> tuple[Callable[[Window], Scope], dict]:
    team = get_object_or_404(Team, slug=slug)
    return (lambda w: Scope(level=TEAM, start=w.start, end=w.end, team=team)), {"team": team}


def _service(name: str) -> tuple[Callable[[Window], Scope], dict]:
    service = get_object_or_404(Service.objects.select_related("owner"), name=name)

    def scope_of(w: Window) -> Scope:
        return Scope(level=SERVICE, start=w.start, end=w.end, service=service, team=service.owner)

    return scope_of, {"service": service, "team": service.owner}


# --- Pages ------------------------------------------------------------------------------------


@require_safe
@permissions.rule_required(permissions.can_view_reports)
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    return _report_page(request, "insights/reports/dashboard.html", *_organisation())


@require_safe
@permissions.rule_required(permissions.can_view_reports)
def team_report(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    return _report_page(request, "insights/reports/team.html", *_team(slug))


@require_safe
@permissions.rule_required(permissions.can_view_reports)
def service_report(request: AuthenticatedRequest, name: str) -> HttpResponse:
    return _report_page(request, "insights/reports/service.html", *_service(name))


# --- CSV --------------------------------------------------------------------------------------


def _csv(
    request: AuthenticatedRequest, table_name: str, scope_of: Callable[[Window], Scope]
) -> HttpResponse:
    """One table of a page as CSV, from the same source and in the same order as the page."""
    form, window = _window(request)
    if window is None:
        errors = "\n".join(
            f"{form[field].label}: {' '.join(map(str, messages))}"
            for field, messages in form.errors.items()
        )
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    scope = scope_of(window)
    table = exports.TABLES.get(table_name)
    if table is None or scope.level not in table.scopes:
        raise Http404(f"No table “{table_name}” here.")
    source = exports.load([table.source], scope)[table.source]
    rows, _ = exports.sort_rows(table, table.rows(source), request.GET.get("sort", ""))
    response = HttpResponse(exports.csv_text(table, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{exports.csv_filename(table, scope)}"'
    return response


@require_safe
@permissions.rule_required(permissions.can_view_reports)
def dashboard_csv(request: AuthenticatedRequest, table: str) -> HttpResponse:
    scope_of, _ = _organisation()
    return _csv(request, table, scope_of)


@require_safe
@permissions.rule_required(permissions.can_view_reports)
def team_csv(request: AuthenticatedRequest, slug: str, table: str) -> HttpResponse:
    scope_of, _ = _team(slug)
    return _csv(request, table, scope_of)


@require_safe
@permissions.rule_required(permissions.can_view_reports)
def service_csv(request: AuthenticatedRequest, name: str, table: str) -> HttpResponse:
    scope_of, _ = _service(name)
    return _csv(request, table, scope_of)


urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("<slug:table>.csv", dashboard_csv, name="dashboard-csv"),
    path("teams/<slug:slug>/", team_report, name="team"),
    path("teams/<slug:slug>/<slug:table>.csv", team_csv, name="team-csv"),
    path("services/<str:name>/", service_report, name="service"),
    path("services/<str:name>/<slug:table>.csv", service_csv, name="service-csv"),
]

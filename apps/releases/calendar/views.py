"""The release calendar page (the whole page, or only its calendar part for htmx), the panel of
calendar feeds, and the iCalendar feed that calendar clients fetch with its secret token."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST, require_safe

from apps.accounts import permissions
from apps.accounts.models import Team
from apps.catalog.selectors import environment_names
from apps.core.forms import select_options
from apps.core.htmx import render_page_or_partial, wants_partial
from apps.core.http import AuthenticatedRequest
from apps.releases.calendar import ics, selectors, services
from apps.releases.groups import groups_of
from apps.releases.models import ReleaseState


@require_safe
def calendar(request: AuthenticatedRequest) -> HttpResponse:
    permissions.require(permissions.can_read(request.user))
    query = selectors.CalendarQuery.from_params(request.GET)
    shown = selectors.calendar_for(user=request.user, query=query)
    all_options = request.GET.get("options") == "all"
    context = {
        "calendar": shown,
        "links": _links(shown, query),
        "options": _filter_options(query.filters, everything=all_options),
        "all_options": all_options,
        "states": ReleaseState.choices,
        # Windows and freezes link to their pages for those who manage them.
        "can_manage": permissions.can_manage_change_calendar(request.user),
    }
    if not wants_partial(request):
        context.update(_feeds(request))
    return render_page_or_partial(
        request,
        page="releases/calendar/calendar.html",
        partial="releases/calendar/partials/_calendar.html",
        context=context,
    )


def _links(shown: selectors.Calendar, query: selectors.CalendarQuery) -> dict[str, str]:
    """Where the toolbar leads, filters kept. "Today" and the view switches carry no date unless
    the URL had one, so a bookmark of this week stays "this week"."""
    base = reverse("releases:calendar")
    filters = urlencode(shown.filters.as_params())
    return {
        "base": base,
        "filters": filters,
        "previous": f"{base}?{shown.params(anchor=shown.period.previous)}",
        "next": f"{base}?{shown.params(anchor=shown.period.next)}",
        "today": f"{base}?{shown.params()}",
        "all_options": f"{base}?{shown.params(anchor=query.anchor)}&options=all",
        "filter_options": reverse("releases:calendar-filter-options")
        + (f"?{filters}" if filters else ""),
        **{
            view: f"{base}?{shown.params(view=view, anchor=query.anchor)}"
            for view in selectors.VIEWS
        },
    }


def _filter_options(filters: selectors.CalendarFilters, *, everything: bool) -> dict:
    """The filters' options, the chosen one selected. The team and service lists are long (an
    organisation's hundreds of teams, a team's hundreds of services): a page draws only the
    chosen ones, and the rest arrive from filter_options once it is shown. Without JavaScript,
    a link asks for the page with every option (`everything`)."""
    if everything:
        return _team_and_service_options(filters) | {"environments": _environment_options(filters)}
    team_name = selectors.calendar_team_name(slug=filters.team)
    return {
        "teams": select_options([(filters.team, team_name)] if team_name else [], filters.team),
        "services": select_options(
            [(filters.service,) * 2] if filters.service else [], filters.service
        ),
        "environments": _environment_options(filters),
    }


def _team_and_service_options(filters: selectors.CalendarFilters) -> dict:
    choices = selectors.calendar_filter_choices(team=filters.team)
    services = select_options(((name, name) for name in choices["services"]), filters.service)
    if filters.service and filters.service not in choices["services"]:
        services += select_options([(filters.service,) * 2], filters.service)
    if choices["more_services"]:
        services += format_html(
            '<option value="" disabled>… only the first {}: choose a team to list its own</option>',
            selectors.FILTER_SERVICES,
        )
    return {"teams": select_options(choices["teams"], filters.team), "services": services}


def _environment_options(filters: selectors.CalendarFilters) -> SafeString:
    # A few names (production, staging...) however many environments: drawn with the page.
    return select_options(((name, name) for name in environment_names()), filters.environment)


@require_safe
def filter_options(request: AuthenticatedRequest) -> HttpResponse:
    """The team and service filters' options, swapped into the calendar's selects by htmx."""
    permissions.require(permissions.can_read(request.user))
    filters = selectors.CalendarFilters.from_params(request.GET)
    # Rendered without the request: the layout's context (the viewer's roles and teams, two
    # queries) has no part in two lists of options.
    response = HttpResponse(
        render_to_string(
            "releases/calendar/partials/_filter_options.html",
            {"options": _team_and_service_options(filters)},
        )
    )
    # Moving through the months asks again for the same lists: a minute's reuse spares that.
    patch_cache_control(response, private=True, max_age=60)
    return response


def _feeds(request: AuthenticatedRequest, new_feed_id: int | None = None) -> dict:
    feeds = []
    for feed in selectors.calendar_feeds_of(user=request.user):
        url = request.build_absolute_uri(reverse("releases:ics", args=[feed.token]))
        feeds.append({"feed": feed, "url": url, "webcal": "webcal" + url[url.index(":") :]})
    return {
        "feeds": feeds,
        "feed_teams": selectors.feed_teams_for(user=request.user),
        "new_feed_id": new_feed_id,
        "zone_name": selectors.zone_of(request.user).key,
    }


def _feeds_response(request: AuthenticatedRequest, new_feed_id: int | None = None) -> HttpResponse:
    if not request.htmx:
        return redirect("releases:calendar")
    return render(request, "releases/calendar/partials/_feeds.html", _feeds(request, new_feed_id))


@require_POST
def feed_create(request: AuthenticatedRequest) -> HttpResponse:
    slug = request.POST.get("team", "").strip()
    team = get_object_or_404(Team, slug=slug) if slug else None
    permissions.require(
        permissions.can_follow_calendar(request.user, team),
        "You can make calendar feeds for yourself and for your own teams only.",
    )
    feed = services.calendar_feed_create(actor=request.user, team=team)
    messages.success(request, f"Calendar feed for {team.name if team else 'you'} created.")
    return _feeds_response(request, new_feed_id=feed.pk)


@require_POST
def feed_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    feed = permissions.get_visible_or_404(selectors.calendar_feeds_of(user=request.user), pk=pk)
    services.calendar_feed_revoke(actor=request.user, feed=feed)
    messages.success(request, "Calendar feed revoked: its URL no longer works.")
    return _feeds_response(request)


@login_not_required  # calendar clients have no session: the secret token is the credential
@require_safe
def feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    feed = selectors.calendar_feed_by_token(token=token)
    if feed is None or not permissions.can_follow_calendar(feed.user, feed.team):
        raise Http404("No such calendar feed.")
    now = timezone.now()
    releases = list(selectors.feed_releases(feed=feed, now=now))
    body = ics.feed_calendar(
        name=f"Runway releases · {feed.team.name if feed.team else feed.user.display_name}",
        releases=releases,
        freezes=selectors.feed_freezes(feed=feed, now=now),
        release_url=lambda release: request.build_absolute_uri(
            reverse("releases:detail", args=[release.pk])
        ),
        generated_at=now,
        groups=groups_of(releases),
        group_url=lambda group: request.build_absolute_uri(group.url),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="runway-releases.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response

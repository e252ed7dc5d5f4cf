"""The release calendar page (the whole page, or only its calendar part for htmx), the panel of
calendar feeds, and the iCalendar feed that calendar clients fetch with its secret token."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from apps.accounts import permissions
from apps.accounts.models import Team
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
    context = {
        "calendar": shown,
        "links": _links(shown, query),
        "options": _filter_options(
            selectors.calendar_filter_choices(team=query.filters.team), query.filters
        ),
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
    return {
        "base": base,
        "filters": urlencode(shown.filters.as_params()),
        "previous": f"{base}?{shown.params(anchor=shown.period.previous)}",
        "next": f"{base}?{shown.params(anchor=shown.period.next)}",
        "today": f"{base}?{shown.params()}",
        **{
            view: f"{base}?{shown.params(view=view, anchor=query.anchor)}"
            for view in selectors.VIEWS
        },
    }


def _filter_options(choices: dict[str, list], filters: selectors.CalendarFilters) -> dict:
    """The filters' options, the chosen one selected."""
    return {
        "teams": select_options(choices["teams"], filters.team),
        "services": select_options(((n, n) for n in choices["services"]), filters.service),
        "environments": select_options(
            ((name, name) for name in choices["environments"]), filters.environment
        ),
    }


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

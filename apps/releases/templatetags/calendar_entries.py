from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.releases.calendar.selectors import ReleaseEntry

register = template.Library()


@register.simple_tag
def month_release(entry: ReleaseEntry) -> SafeString:
    """A release in a month cell: the same as _release_item.html shows, less what only a week
    has room for. Drawn here, not by a template: a busy month shows them by the hundred, and a
    template's variables and tags cost tens of microseconds each."""
    release = entry.release
    badge = (
        format_html(
            '<span class="cal-conflict" title="{}" data-testid="conflict-badge" '
            'aria-hidden="true">⚠</span> ',
            entry.conflict_note,
        )
        if entry.conflicts
        else ""
    )
    return format_html(
        '<li><a class="cal-release state-{state}{conflicted}" href="{url}" data-release="{pk}" '
        'title="{tooltip}">{badge}<time datetime="{starts}">{start_time}</time> '
        '<span class="cal-release-name">{name}</span>'
        '<span class="visually-hidden">{spoken}</span></a></li>',
        state=release.state,
        conflicted=" has-conflict" if entry.conflicts else "",
        url=entry.url,
        pk=release.pk,
        tooltip=entry.tooltip,
        badge=badge,
        starts=entry.starts_iso,
        start_time=entry.start_time,
        name=entry.name,
        spoken=entry.spoken,
    )

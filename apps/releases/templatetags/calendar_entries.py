from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from apps.releases.calendar.selectors import ReleaseEntry

register = template.Library()


@register.simple_tag
def month_release(entry: ReleaseEntry) -> SafeString:
    """A release in a month cell: the same as _release_item.html shows, less what only a week
    has room for. Drawn here, not by a template: a busy month shows them by the hundred, and a
    template's variables and tags cost tens of microseconds each. Escaped with html.escape, as
    django.utils.html.escape does (quotes too), without its wrapping of each value: format_html
    cost more than the rest of the entry."""
    release = entry.release
    badge = (
        f'<span class="cal-conflict" title="{escape(entry.conflict_note)}" '
        'data-testid="conflict-badge" aria-hidden="true">⚠</span> '
        if entry.conflicts
        else ""
    )
    return mark_safe(  # noqa: S308 - every value below is escaped, or an id, or our own text
        f'<li><a class="cal-release state-{escape(release.state)}'
        f'{" has-conflict" if entry.conflicts else ""}" href="{escape(entry.url)}" '
        f'data-release="{int(release.pk)}" title="{escape(entry.tooltip)}">{badge}'
        f'<time datetime="{entry.starts_iso}">{escape(entry.start_time)}</time> '
        f'<span class="cal-release-name">{escape(entry.name)}</span>'
        f'<span class="visually-hidden">{escape(entry.spoken)}</span></a></li>'
    )

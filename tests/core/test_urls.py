"""row_path: reverse() once a URL for the hundreds of rows a page links."""

import pytest
from django.urls import reverse, set_script_prefix

from apps.core.urls import row_path


@pytest.mark.parametrize(
    ("url_name", "argument"),
    [
        ("releases:detail", 7),
        ("releases:detail", 987654321),
        ("catalog:service-detail", "search.v2"),
        ("catalog:service-detail", "zürich a&b"),
    ],
)
def test_a_rows_path_is_the_one_reverse_gives_under_any_script_prefix(url_name, argument):
    assert row_path(url_name, argument) == reverse(url_name, args=[argument])
    set_script_prefix("/runway/")
    try:
        assert row_path(url_name, argument) == reverse(url_name, args=[argument])
        assert row_path(url_name, argument).startswith("/runway/")
    finally:
        set_script_prefix("/")

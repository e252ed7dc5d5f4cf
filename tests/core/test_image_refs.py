import pytest
from django.template import Context, Template

from apps.core.image_refs import ImageRef

DIGEST = "sha256:" + "9f86d081884c7d65" * 4


@pytest.mark.parametrize(
    ("reference", "short"),
    [
        ("registry.example.com:5000/payments/api:1.4.2", "…/api:1.4.2"),
        # The tag is never cut, however long.
        ("ghcr.io/acme/api:2026.12.06-build.4711-rc.3", "…/api:2026.12.06-build.4711-rc.3"),
        (f"ghcr.io/acme/api:1.4.2@{DIGEST}", "…/api:1.4.2@sha256:9f86d081884c"),
        (f"ghcr.io/acme/api@{DIGEST}", "…/api@sha256:9f86d081884c"),
        # A registry's port is not a tag.
        ("localhost:5000/api", "…/api"),
        ("nginx:1.27", "nginx:1.27"),
        ("nginx", "nginx"),
    ],
)
def test_the_short_form_keeps_the_name_and_the_whole_tag(reference, short):
    assert ImageRef.parse(reference).short == short


def test_the_title_form_keeps_the_repository_and_cuts_only_the_digest():
    ref = ImageRef.parse(f"localhost:5000/acme/api:1.4.2@{DIGEST}")
    assert ref.short_digest == "localhost:5000/acme/api:1.4.2@sha256:9f86d081884c"
    assert (ref.repository, ref.tag, ref.digest) == ("localhost:5000/acme/api", "1.4.2", DIGEST)


def render(reference: str, copy: str = "") -> str:
    template = Template("{% load image_refs %}{% image_ref ref " + copy + "%}")
    return template.render(Context({"ref": reference}))


def test_the_tag_shows_the_full_reference_on_hover_and_copies_it():
    full = f"ghcr.io/acme/api:1.4.2@{DIGEST}"
    html = render(full)
    assert f'<code title="{full}">…/api:1.4.2@sha256:9f86d081884c</code>' in html
    assert f'data-copy="{full}"' in html


def test_inside_a_link_the_tag_has_no_button_and_escapes_what_it_is_given():
    html = render('evil"><script>x</script>:1', "copy=False ")
    assert "<button" not in html and "<script>" not in html
    assert "&lt;script&gt;" in html

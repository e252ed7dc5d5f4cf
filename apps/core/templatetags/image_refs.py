from django import template
from django.utils.html import format_html

from apps.core.image_refs import ImageRef

register = template.Library()


@register.simple_tag
def image_ref(reference: str, copy: bool = True):
    """The short form with the full reference on hover, and a button that copies it. Inside a
    link, `copy=False`: a button in a link is neither clickable nor accessible."""
    if not reference:
        return format_html('<span class="muted">—</span>')
    short = ImageRef.parse(reference).short
    if not copy:
        return format_html('<code class="image-ref" title="{}">{}</code>', reference, short)
    return format_html(
        '<span class="image-ref"><code title="{full}">{short}</code>'
        '<button type="button" class="copy" data-copy="{full}" '
        'aria-label="Copy {full}" title="Copy the full reference">⧉</button></span>',
        full=reference,
        short=short,
    )


@register.filter
def image_digest(reference: str) -> str:
    """The digest an image reference pins ("sha256:…"), or ""."""
    return ImageRef.parse(reference or "").digest

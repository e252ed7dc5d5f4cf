from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

_http_url = URLValidator(schemes=["http", "https"])


def validate_links(links) -> None:
    """A list of {title, url} with http(s) URLs, as services and releases keep them."""
    if not isinstance(links, list):
        raise ValidationError("Links must be a list of {title, url}.")
    for index, link in enumerate(links, start=1):
        url = link.get("url", "") if isinstance(link, dict) else ""
        try:
            _http_url(url)
        except ValidationError:
            raise ValidationError(f"Link {index}: {url!r} is not an http(s) URL.") from None
        if not str(link.get("title", "")).strip():
            raise ValidationError(f"Link {index} needs a title.")

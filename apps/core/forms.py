from collections.abc import Iterable
from html import escape

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.safestring import SafeString, mark_safe


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: next to the field it names, or on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(NON_FIELD_ERRORS, error.messages)


def model_choice_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    """A form's ModelChoiceField, for narrowing its queryset to the person filling it in."""
    field = form.fields[name]
    if not isinstance(field, forms.ModelChoiceField):
        raise TypeError(f"{type(form).__name__}.{name} is not a ModelChoiceField")
    return field


def select_options(pairs: Iterable[tuple[str, str]], chosen: str | None) -> SafeString:
    """The <option>s of a filter's select, the chosen value selected, joined here rather than
    drawn one by one by a template: an organisation has hundreds of teams and systems, and a
    template's loop costs tens of microseconds an option."""
    # html.escape escapes quotes too, as django.utils.html.escape, without its per-call wrapping.
    return mark_safe(  # noqa: S308
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == chosen else ""}>'
            f"{escape(label)}</option>"
            for value, label in pairs
        )
    )

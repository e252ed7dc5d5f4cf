"""The rings page's form: one row per ring, numbered in the order they roll out. It works
without JavaScript: a row is removed by ticking it, moved by changing its number, and added
with the blank row (or "Add a row", which redraws the form one row longer). Whether the rings
may be set (a cluster twice, a release in progress, who asks) is the service's to say
(apps/rollouts/rings.py), as it is for the API."""

from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet, formset_factory

from apps.catalog.models import MAX_SOAK_SECONDS, Cluster
from apps.rollouts.models import MAX_RINGS, Ring


class RingForm(forms.Form):
    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.order_by("name"),
        empty_label="Choose a cluster",
        error_messages={"required": "Choose the cluster of this ring (or tick Remove)."},
    )
    soak_seconds = forms.IntegerField(
        label="Soak after it (seconds)",
        min_value=0,
        max_value=MAX_SOAK_SECONDS,
        initial=0,
        required=False,
    )


class RingRows(BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        # Numbered from 0, as the rings are everywhere else (the API, the service's refusals).
        if index is not None and index < self.initial_form_count():
            form.fields["ORDER"].initial = index
        form.fields["ORDER"].label = "Ring number"
        form.fields["DELETE"].label = "Remove"

    def rings(self) -> list[dict]:
        """The rows kept, in the order given: what environment_rings_set takes."""
        return [
            {
                "cluster": form.cleaned_data["cluster"],
                "soak_seconds": form.cleaned_data.get("soak_seconds") or 0,
            }
            for form in self.ordered_forms
        ]

    def add_ring_errors(self, error: ValidationError) -> list[str]:
        """Put the service's refusal next to the field of the ring it names; return what names
        no ring (too many rings, a release in progress) for the top of the form."""
        ordered = self.ordered_forms
        elsewhere: list[str] = []
        if not hasattr(error, "error_dict"):
            return list(error.messages)
        for field, errors in error.error_dict.items():
            for one in errors:
                position = (one.params or {}).get("ring")
                if (
                    isinstance(position, int)
                    and position < len(ordered)
                    and field in RingForm.base_fields
                ):
                    ordered[position].add_error(field, one)
                else:
                    label = field.replace("_", " ").capitalize()
                    elsewhere += [f"{label}: {message}" for message in one.messages]
        return elsewhere


def _rows(data=None, *, initial: list[dict], extra: int) -> RingRows:
    rows = formset_factory(
        RingForm,
        formset=RingRows,
        extra=extra,
        can_order=True,
        can_delete=True,
        max_num=MAX_RINGS,
        absolute_max=MAX_RINGS + 10,
    )
    return cast(RingRows, rows(data, initial=initial, prefix="rings"))


def ring_rows(rings: list[Ring]) -> RingRows:
    """The environment's rings as rows, numbered 0, 1, ... in the order they roll out, and a
    blank one to add a ring (two when there are none yet)."""
    initial = [{"cluster": ring.cluster_id, "soak_seconds": ring.soak_seconds} for ring in rings]
    return _rows(initial=initial, extra=1 if rings else 2)


def ring_rows_posted(data) -> RingRows:
    """The rows as posted, compared with no initial values: a blank row is one left alone,
    whatever ring had its place before."""
    return _rows(data, initial=[], extra=0)


def ring_rows_redrawn(post) -> RingRows:
    """The rows as the person left them, unchecked, sorted by their numbers, without the rows
    ticked for removal or left blank, and a blank row more: "Add a row", saving nothing."""
    try:
        total = min(int(post.get("rings-TOTAL_FORMS", 0)), MAX_RINGS + 10)
    except ValueError:
        total = 0
    kept = []
    for index in range(total):
        row = {name: post.get(f"rings-{index}-{name}", "") for name in ("cluster", "soak_seconds")}
        if post.get(f"rings-{index}-DELETE") or not row["cluster"]:
            continue
        order = post.get(f"rings-{index}-ORDER", "")
        kept.append((int(order) if order.isdigit() else MAX_RINGS + 10 + index, index, row))
    initial = [{**row, "ORDER": number} for number, (*_, row) in enumerate(sorted(kept))]
    return _rows(initial=initial, extra=1 if initial else 2)

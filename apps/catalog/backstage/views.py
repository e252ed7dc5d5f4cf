"""The Backstage import page: upload a file or paste YAML, read the report."""

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.views.decorators.http import require_http_methods

from apps.accounts import permissions
from apps.catalog.backstage.importer import catalog_import
from apps.catalog.backstage.loader import MAX_SOURCE_BYTES, SourceError
from apps.core.htmx import render_page_or_partial
from apps.core.http import AuthenticatedRequest

LIMIT_MIB = MAX_SOURCE_BYTES // (1024 * 1024)


class ImportForm(forms.Form):
    file = forms.FileField(
        required=False,
        label="catalog-info.yaml",
        help_text=f"A Backstage YAML file of up to {LIMIT_MIB} MiB; several documents are fine.",
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,application/yaml,text/yaml"}),
    )
    text = forms.CharField(
        required=False,
        label="Or paste YAML",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
    )

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload.size > MAX_SOURCE_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {MAX_SOURCE_BYTES:,}."
            )
        return upload

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        empty = not cleaned.get("file") and not (cleaned.get("text") or "").strip()
        if empty and not self.errors:
            raise forms.ValidationError("Choose a file or paste some YAML.")
        return cleaned

    def sources(self) -> list[tuple[str, str]]:
        found = []
        upload = self.cleaned_data.get("file")
        if upload:
            try:
                found.append((upload.name, upload.read().decode("utf-8-sig")))
            except UnicodeDecodeError:
                raise SourceError(upload.name, "is not UTF-8 text.") from None
        if (self.cleaned_data.get("text") or "").strip():
            found.append(("pasted text", self.cleaned_data["text"]))
        return found


@require_http_methods(["GET", "POST"])
@permissions.rule_required(permissions.can_create_services)
def import_upload(request: AuthenticatedRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = catalog_import(actor=request.user, sources=form.sources())
        except SourceError as exc:
            form.add_error(None, f"Nothing was imported. {exc}")
        else:
            if report.ok:
                messages.success(request, "Imported without errors.")
            else:
                messages.warning(request, f"{len(report.errors)} entities were not imported.")
    return render_page_or_partial(
        request,
        page="catalog/import.html",
        partial="catalog/partials/_import_report.html",
        context={"form": form, "report": report, "limit_mib": LIMIT_MIB},
    )

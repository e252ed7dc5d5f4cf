"""What an import found and did: the issues per entity, and the report handed back."""

from collections import defaultdict
from dataclasses import dataclass, field

from apps.catalog.backstage.loader import Issue


@dataclass
class Issues:
    """Errors and warnings, each naming its source, document and Backstage field."""

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def error(self, entity, where: str, message: str) -> None:
        """An entity that cannot be imported: it is marked failed and written nowhere."""
        entity.failed = True
        self.errors.append(Issue(entity.doc.source, entity.doc.index, where, message))

    def warn(self, entity, where: str, message: str) -> None:
        self.warnings.append(Issue(entity.doc.source, entity.doc.index, where, message))


@dataclass
class ImportReport(Issues):
    import_id: str = ""
    sources: list[str] = field(default_factory=list)
    created: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    updated: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    relations: dict[str, int] = field(default_factory=dict)
    skipped_documents: int = 0  # empty documents

    def record(self, label: str, name: str, existed: bool) -> None:
        (self.updated if existed else self.created)[label].append(name)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return {
            kind: {
                "created": len(self.created.get(kind, ())),
                "updated": len(self.updated.get(kind, ())),
            }
            for kind in sorted(set(self.created) | set(self.updated))
        }

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "import_id": self.import_id,
            "ok": self.ok,
            "document_numbering": "1-based",
            "sources": list(self.sources),
            "counts": self.counts,
            "created": {kind: list(names) for kind, names in sorted(self.created.items())},
            "updated": {kind: list(names) for kind, names in sorted(self.updated.items())},
            "relations": dict(self.relations),
            "errors": [issue._asdict() for issue in self.errors],
            "warnings": [issue._asdict() for issue in self.warnings],
            "skipped_documents": self.skipped_documents,
        }

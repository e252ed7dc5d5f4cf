"""Safe reading of multi-document Backstage YAML.

yaml.safe_load_all builds no arbitrary objects, but it still follows anchors and aliases: a
"billion laughs" document is a few hundred bytes that expand into billions of nodes once they
are copied into JSON. Every document's node graph is checked before it is constructed: too many
alias uses, too many nodes once expanded, or an alias that contains itself, and the document is
refused. Sources are limited in size before any parsing starts.

Errors name the source and, when yaml knows it, the line (yaml's problem_mark, 1-based).

collect_from_paths reads files and folders, following Backstage Location entities.
"""

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

MAX_SOURCE_BYTES = 5 * 1024 * 1024  # per uploaded text or file
MAX_ALIASES_PER_DOCUMENT = 100  # a catalog entity rarely uses one
MAX_NODES_PER_DOCUMENT = 100_000  # counted with every alias expanded

# libyaml, where installed, is several times faster and caps nesting depth itself.
if TYPE_CHECKING:  # both have the same interface; a base class must be one class to mypy
    _BaseLoader = yaml.SafeLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LOCATION_HINT = re.compile(r"""kind["']?\s*:\s*["']?location\b""", re.IGNORECASE)


class SourceError(ValueError):
    """A source that cannot be read at all: too big, not YAML, or unsafe YAML."""

    def __init__(self, source: str, message: str, *, line: int | None = None, document=None):
        self.source = source
        self.message = message
        self.line = line
        self.document = document
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f", line {self.line}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "detail": str(self),
            "source": self.source,
            "line": self.line,
            "document": self.document,
        }


class SourceTooLarge(SourceError):
    pass


class UnsafeYaml(SourceError):
    pass


class InvalidYaml(SourceError):
    pass


class Issue(NamedTuple):
    source: str
    document: int | None  # 1-based; None when it concerns the source as a whole
    field: str  # the Backstage field at fault, e.g. "spec.owner"
    message: str


class SourceList(list):
    """(label, yaml_text) pairs, with what collecting them found worth a warning."""

    def __init__(self, items: Iterable = (), warnings: Iterable[Issue] = ()):
        super().__init__(items)
        self.warnings: list[Issue] = list(warnings)


class CatalogLoader(_BaseLoader):
    """SafeLoader whose timestamps and binaries stay strings, so every value is JSON."""


def _scalar_as_text(loader, node):
    return loader.construct_scalar(node)


CatalogLoader.add_constructor("tag:yaml.org,2002:timestamp", _scalar_as_text)
CatalogLoader.add_constructor("tag:yaml.org,2002:binary", _scalar_as_text)


@dataclass(frozen=True)
class LoadedDocument:
    source: str
    index: int  # 1-based position in the source
    line: int  # 1-based line the document starts on
    data: Any


def check_size(source: str, text: str) -> None:
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise SourceTooLarge(
            source,
            f"is {size:,} bytes; the limit is {MAX_SOURCE_BYTES:,} bytes "
            f"({MAX_SOURCE_BYTES // (1024 * 1024)} MiB).",
        )


def read_source(path: Path, *, label: str | None = None) -> str:
    """A file's text, refusing oversized and non-UTF-8 files before reading them into memory."""
    label = label or str(path)
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise SourceTooLarge(
            label, f"is {size:,} bytes; the limit is {MAX_SOURCE_BYTES:,} bytes per file."
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidYaml(label, f"is not UTF-8 text (byte {exc.start}).") from None


def load_documents(source: str, text: str) -> list[LoadedDocument]:
    """Every document of a YAML stream, in order. Raises SourceError for the whole source:
    a stream that breaks halfway is not half-imported."""
    check_size(source, text)
    may_alias = "&" in text  # no anchor, no alias: most files skip the graph check
    loader = CatalogLoader(text)
    documents: list[LoadedDocument] = []
    index = 0
    try:
        while loader.check_node():
            index += 1
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 0
            if may_alias:
                _check_graph(node, source=source, index=index, line=line)
            data = loader.construct_document(node) if node is not None else None
            documents.append(LoadedDocument(source, index, line, _json_safe(data)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise InvalidYaml(
            source,
            f"document {index}: {problem or 'not valid YAML'}.",
            line=mark.line + 1 if mark else None,
            document=index,
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidYaml(source, f"document {index}: {exc}", document=index) from None
    except RecursionError:
        raise InvalidYaml(
            source, f"document {index} is nested too deeply.", document=index
        ) from None
    finally:
        loader.dispose()
    return documents


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_graph(root, *, source: str, index: int, line: int) -> None:
    """Refuse a document whose aliases are too many, recursive, or expand too far.

    An alias is the same node object reached a second time. Sizes are memoised per node, so the
    check costs the size of the graph as written, not as expanded.
    """
    if root is None:
        return
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    aliases = 0
    stack: list[tuple[Any, bool]] = [(root, False)]

    def refuse(message: str):
        raise UnsafeYaml(source, f"document {index} {message}", line=line, document=index)

    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            in_progress.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES_PER_DOCUMENT:
                refuse(
                    f"expands to more than {MAX_NODES_PER_DOCUMENT:,} nodes through its aliases "
                    "(a YAML bomb?); refused."
                )
            continue
        if key in sizes:
            aliases += 1
            if aliases > MAX_ALIASES_PER_DOCUMENT:
                refuse(f"uses more than {MAX_ALIASES_PER_DOCUMENT} aliases; refused.")
            continue
        if key in in_progress:
            refuse("contains an alias to itself; refused.")
        in_progress.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))


def _json_safe(value):
    """What YAML can say and JSON cannot: non-string keys, NaN and infinities."""
    if isinstance(value, dict):
        return {_json_key(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _json_key(key) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


# --- Reading files and folders, following Locations ----------------------------------------------


def collect_from_paths(paths: Iterable[str | Path]) -> SourceList:
    """The YAML sources under `paths` (files, or folders searched for *.yaml and *.yml), and
    those their Location entities name with relative `spec.target` / `spec.targets`.

    Missing targets, URLs and absolute paths are warnings, not errors. Each file is read once.
    Raises SourceError for a path that does not exist or a file that cannot be read.
    """
    sources = SourceList()
    queue: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.suffix.lower() in (".yaml", ".yml"))
            queue.extend(sorted(p for p in found if p.is_file()))
        elif path.is_file():
            queue.append(path)
        else:
            raise SourceError(str(path), "does not exist.")
    seen: set[Path] = set()
    for path in queue:  # grows as Locations are followed
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        label = str(path)
        text = read_source(path, label=label)
        sources.append((label, text))
        if _LOCATION_HINT.search(text):  # most files have none: spare them a second parse
            queue.extend(_location_targets(label, path, text, sources.warnings))
    return sources


def _location_targets(label: str, path: Path, text: str, warnings: list[Issue]) -> list[Path]:
    found = []
    for doc in load_documents(label, text):
        data = doc.data
        if not isinstance(data, dict) or str(data.get("kind", "")).lower() != "location":
            continue
        spec = data.get("spec")
        if not isinstance(spec, dict):
            spec = {}
        targets = [("spec.target", spec["target"])] if spec.get("target") else []
        many = spec.get("targets")
        if not isinstance(many, list):
            many = []
        targets += [(f"spec.targets[{i}]", target) for i, target in enumerate(many)]
        for where, target in targets:
            problem = None
            if not isinstance(target, str) or not target.strip():
                problem = f"{target!r} is not a target."
            elif "://" in target or target.startswith(("http:", "https:")):
                problem = f"{target} is a URL; only relative file targets are followed. Skipped."
            elif os.path.isabs(target):
                problem = f"{target} is an absolute path; only relative ones are followed. Skipped."
            elif any(char in target for char in "*?["):
                matches = sorted(p for p in path.parent.glob(target) if p.is_file())
                problem = None if matches else f"{target} matches no file. Skipped."
                found.extend(matches)
            else:
                candidate = Path(os.path.normpath(path.parent / target))
                if candidate.is_file():
                    found.append(candidate)
                else:
                    problem = f"{target} was not found. Skipped."
                    twin = _other_extension(candidate)
                    if twin is not None and twin.is_file():
                        problem += f" ({twin.name} exists: is the extension wrong?)"
            if problem:
                warnings.append(Issue(label, doc.index, where, problem))
    return found


def _other_extension(path: Path) -> Path | None:
    swap = {".yaml": ".yml", ".yml": ".yaml"}
    return path.with_suffix(swap[path.suffix]) if path.suffix in swap else None

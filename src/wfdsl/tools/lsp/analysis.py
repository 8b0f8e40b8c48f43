"""Editor analysis: open documents and project files in; diagnostics, hovers,
completions, definitions, symbols, formatting edits and fixes out.

No protocol types here (the server converts): positions are 0-based lines
and characters counted in code points; files are absolute paths.

A document's *project* is every `.wf` file below the directory of its
config file (`wfdsl.toml`, or a `pyproject.toml` with `[tool.wfdsl]`), or
else below the editor's workspace folder that holds it; open documents count
with their unsaved text. It is linted exactly as `wfdsl lint` run in that
directory would lint it: the same schema, `[lint]` settings and checks, with
paths shown relative to that directory.

>>> ws = Workspace(roots=())
>>> ws.open("/tmp/x/a.wf", 'workflow "A" { object contact enroll on form.submited steps { end } }')
>>> result = ws.lint("/tmp/x/a.wf")
>>> [(d.name, d.hint) for d in result.files["/tmp/x/a.wf"]]
[('unknown-event', 'did you mean `form.submitted`?')]
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from wfdsl.catalog import EVENTS
from wfdsl.check import check_project, select
from wfdsl.check.context import event_attribute_values
from wfdsl.diagnostics import Diagnostic
from wfdsl.schema import BUILTIN, ConfigError, LintSettings, Schema, find_config, load_lint_settings, load_schema
from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import ParseResult, expected_terminals, parse, terminal_words
from wfdsl.syntax.project import Project
from wfdsl.tools.fmt import format_source
from wfdsl.tools.lsp.docs import describe
from wfdsl.tools.lsp.edits import did_you_mean_fix, line_edits
from wfdsl.tools.lsp.outline import (
    attributes_line,
    enclosing_event,
    event_markdown,
    head_span,
    names_workflow,
    node_chain,
    options_line,
    property_markdown,
    workflow_markdown,
    workflow_symbol,
)
from wfdsl.tools.lsp.values import (
    Completion,
    Edit,
    Hover,
    LintResult,
    Location,
    Pos,
    Range,
    Symbol,
    contains,
    offset_at,
    pos_at,
    span_range,
    text_in,
)

#: Directories never searched for project files.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv"})


# ---------------------------------------------------------------- workspace


@attrs.frozen
class _Parsed:
    shown: str
    text: str
    result: ParseResult


class Workspace:
    """Open documents, the project files on disk, and parse results cached by text.

    Thread use: the server changes documents on its event loop and lints in a
    worker thread; `snapshot` hands the worker a copy of the open texts, and one
    lock serialises the parser (whose builders are per process).
    """

    def __init__(self, roots: Iterable[str | Path]) -> None:
        self.roots = tuple(os.path.abspath(r) for r in roots)
        self.documents: dict[str, str] = {}
        self._parsed: dict[str, _Parsed] = {}
        self._disk: dict[str, tuple[tuple[int, int], str | None]] = {}
        self._listing: dict[str, tuple[str, ...]] = {}
        self._parse_lock = threading.Lock()
        self._cache_lock = threading.Lock()

    # -- documents

    def open(self, path: str, text: str) -> None:
        self.documents[path] = text

    def close(self, path: str) -> None:
        self.documents.pop(path, None)
        self.files_changed()

    def files_changed(self) -> None:
        """Files were created, deleted or saved: list and read them again."""
        with self._cache_lock:
            self._listing.clear()

    def snapshot(self) -> dict[str, str]:
        return dict(self.documents)

    def text(self, path: str, documents: Mapping[str, str] | None = None) -> str | None:
        docs = self.documents if documents is None else documents
        if path in docs:
            return docs[path]
        return self._read(path)

    def _read(self, path: str) -> str | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        with self._cache_lock:
            cached = self._disk.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            data = Path(path).read_bytes()
            text: str | None = data.decode("utf-8").removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError):
            text = None
        with self._cache_lock:
            self._disk[path] = (key, text)
        return text

    # -- projects

    def config_dir(self, path: str) -> str | None:
        try:
            found = find_config(os.path.dirname(path) or ".")
        except ConfigError as error:
            return os.path.dirname(error.path)
        return str(found[0].parent) if found else None

    def project_root(self, path: str) -> str | None:
        """The directory whose `.wf` files form the document's project, or None (the document alone)."""
        if not os.path.isabs(path):  # an unsaved `untitled:` document stands alone
            return None
        config = self.config_dir(path)
        if config is not None:
            return config
        holding = [r for r in self.roots if _is_below(path, r)]
        return max(holding, key=len) if holding else None

    def project_key(self, path: str) -> str:
        return self.project_root(path) or path

    def _list(self, root: str) -> tuple[str, ...]:
        with self._cache_lock:
            found = self._listing.get(root)
        if found is not None:
            return found
        out: list[str] = []
        for current, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
            out.extend(os.path.join(current, f) for f in sorted(files) if f.endswith(".wf"))
        listing = tuple(sorted(out))
        with self._cache_lock:
            self._listing[root] = listing
        return listing

    def members(self, path: str, documents: Mapping[str, str] | None = None) -> tuple[str | None, list[str]]:
        """The project root of `path` and its files (on disk, and open below the root)."""
        docs = self.documents if documents is None else documents
        root = self.project_root(path)
        if root is None:
            return None, [path]
        found = set(self._list(root))
        found.update(p for p in docs if _is_below(p, root) and p.endswith(".wf"))
        found.add(path)
        return root, sorted(found)

    def parse(self, path: str, root: str | None, documents: Mapping[str, str] | None = None) -> ParseResult | None:
        """The parse of a file's current text, re-parsed only when the text changed."""
        text = self.text(path, documents)
        if text is None:
            return None
        shown = os.path.relpath(path, root) if root is not None else path
        with self._cache_lock:
            cached = self._parsed.get(path)
        if cached is not None and cached.text == text and cached.shown == shown:
            return cached.result
        with self._parse_lock:
            result = parse(text, shown)
        with self._cache_lock:
            self._parsed[path] = _Parsed(shown, text, result)
        return result

    def results(
        self, path: str, documents: Mapping[str, str] | None = None
    ) -> tuple[str | None, dict[str, ParseResult]]:
        root, files = self.members(path, documents)
        out: dict[str, ParseResult] = {}
        for file in files:
            result = self.parse(file, root, documents)
            if result is not None:
                out[file] = result
        return root, out

    def config(self, path: str) -> tuple[Schema, LintSettings, str | None]:
        """The schema and `[lint]` settings for a file, and the problem if its config is unusable."""
        start = self.project_root(path) or (os.path.dirname(path) if os.path.isabs(path) else "")
        if not start or not os.path.isdir(start):
            start = self.roots[0] if self.roots else os.getcwd()
        try:
            return load_schema(start), load_lint_settings(start), None
        except ConfigError as error:
            return BUILTIN, LintSettings(), f"bad configuration: {error}"

    def schema(self, path: str) -> Schema:
        return self.config(path)[0]

    # -- lint

    def lint(self, path: str, documents: Mapping[str, str] | None = None) -> LintResult:
        """The diagnostics of the project `path` belongs to, as `wfdsl lint <root>` gives them."""
        root, results = self.results(path, documents)
        schema, settings, problem = self.config(path)
        project = Project(files=tuple(sorted(results.values(), key=lambda r: r.module.path)))
        found = select(
            check_project(project, schema, strict=settings.strict),
            only=settings.select,
            ignore=settings.ignore,
        )
        by_shown = {result.module.path: file for file, result in results.items()}
        files: dict[str, list[Diagnostic]] = {file: [] for file in results}
        for diagnostic in found:
            file = by_shown.get(diagnostic.span.file)
            if file is not None:
                files[file].append(diagnostic)
        return LintResult(root=root, files={k: tuple(v) for k, v in files.items()}, problem=problem)

    # -- questions about one document

    def _module(self, path: str) -> n.Module | None:
        result = self.parse(path, self.project_root(path))
        return result.module if result is not None else None

    def hover(self, path: str, pos: Pos) -> Hover | None:
        module = self._module(path)
        if module is None:
            return None
        chain = node_chain(module, pos)
        if not chain:
            return None
        line, col = pos.line + 1, pos.char + 1
        for node in reversed(chain):
            if isinstance(node, n.EventRef) and contains(node.name_span, line, col):
                return Hover(markdown=event_markdown(node.name), range=span_range(node.name_span))
        deepest = chain[-1]
        event = enclosing_event(chain)
        if isinstance(deepest, n.PropertyRef) and event is not None:
            spec = EVENTS.get(event.name)
            if spec is not None:
                known = deepest.dotted in spec.attributes
                text = (
                    f"`{deepest.dotted}`: attribute of the event `{event.name}`"
                    if known
                    else f"`{deepest.dotted}` is not an attribute of `{event.name}`"
                )
                return Hover(markdown=text + "\n\n" + attributes_line(event.name), range=span_range(deepest.span))
        if isinstance(deepest, n.PropertyRef | n.Variable):
            parts = deepest.parts if isinstance(deepest, n.PropertyRef) else deepest.path
            markdown = property_markdown(self.schema(path), parts)
            if markdown is not None:
                return Hover(markdown=markdown, range=span_range(deepest.span))
        if isinstance(deepest, n.StringLit) and names_workflow(chain):
            found = self._workflow_named(path, deepest.value)
            if found is not None:
                file, workflow = found
                return Hover(markdown=workflow_markdown(workflow, file), range=span_range(deepest.span))
        for node in reversed(chain):
            doc = describe(node)
            if doc is not None:
                return Hover(markdown=doc, range=span_range(head_span(node)))
        return None

    def _workflow_named(self, path: str, name: str) -> tuple[str, n.Workflow] | None:
        _, results = self.results(path)
        for file, result in results.items():
            for workflow in result.module.workflows:
                if workflow.name.value == name:
                    return file, workflow
        return None

    def definition(self, path: str, pos: Pos) -> list[Location]:
        module = self._module(path)
        if module is None:
            return []
        chain = node_chain(module, pos)
        if not chain or not isinstance(chain[-1], n.StringLit):
            return []
        target = chain[-1].value
        parent = chain[-2] if len(chain) > 1 else None
        if isinstance(parent, n.GoTo):
            workflow = chain[0]
            return [
                Location(path=path, range=span_range(node.name.span))
                for node in workflow.walk()
                if isinstance(node, n.Label) and node.name.value == target
            ]
        if names_workflow(chain):
            _, results = self.results(path)
            return [
                Location(path=file, range=span_range(workflow.name.span))
                for file, result in results.items()
                for workflow in result.module.workflows
                if workflow.name.value == target
            ]
        return []

    def symbols(self, path: str) -> list[Symbol]:
        result = self.parse(path, self.project_root(path))
        if result is None:
            return []
        lines = result.source.split("\n")
        return [workflow_symbol(w, lines) for w in result.module.workflows]

    def format(self, path: str) -> list[Edit] | None:
        """The edits that make the document `wfdsl fmt`'s output; None when it does not parse."""
        text = self.text(path)
        if text is None:
            return None
        crlf = "\r\n" in text
        formatted = format_source(text.replace("\r\n", "\n") if crlf else text, path)
        if not isinstance(formatted, str):
            return None
        if crlf:  # the file keeps its line endings
            formatted = formatted.replace("\n", "\r\n")
        return line_edits(text, formatted)

    def complete(self, path: str, pos: Pos) -> list[Completion]:
        text = self.text(path)
        if text is None:
            return []
        offset = offset_at(text, pos)
        return self._complete(path, text, offset)

    def _complete(self, path: str, text: str, offset: int) -> list[Completion]:
        line_start = text.rfind("\n", 0, offset) + 1
        prefix = text[line_start:offset]
        here = pos_at(text, offset)
        string = _open_string(prefix)
        if string is not None:
            before = prefix[:string].rstrip()
            replace = Range(Pos(here.line, string + 1), here)
            if re.search(r"\bworkflow\s*(=|\bin\s*\[[^\]]*)?$", before):
                return [
                    Completion(
                        label=name, kind="workflow", detail=f"workflow in {os.path.relpath(file)}", replace=replace
                    )
                    for name, file in self._workflow_names(path).items()
                ]
            if re.search(r"\blist\s*(=|\bin\s*\[[^\]]*)?$", before):
                return [Completion(label=name, kind="list", replace=replace) for name in self._list_names(path)]
            token = re.search(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_]*)$", prefix)
            if token is not None:  # a data token: `{{ contact.firstname }}`
                return self._properties(
                    path, token.group(1), Range(Pos(here.line, here.char - len(token.group(2))), here)
                )
            return []
        event_args = re.search(r"([A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*)\(([^()\"]*)$", prefix)
        dotted = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_]*)$", prefix)
        word = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", prefix)
        if event_args is not None and event_args.group(1) in EVENTS:
            spec = EVENTS[event_args.group(1)]
            typed = re.search(r"[A-Za-z_][A-Za-z0-9_.]*$", prefix)
            start = offset - (len(typed.group()) if typed else 0)
            replace = Range(pos_at(text, start), here)
            return [
                Completion(label=a, kind="attribute", detail=f"attribute of {spec.name}", replace=replace)
                for a in spec.attributes
            ]
        if dotted is not None:
            head = dotted.group(1)
            replace = Range(Pos(here.line, here.char - len(dotted.group(2))), here)
            if self.schema(path).has_object(head):
                return self._properties(path, head, replace)
            events = [e for e in EVENTS if e.startswith(head + ".")]
            return [
                Completion(
                    label=e.split(".", 1)[1], kind="event", detail=e, documentation=attributes_line(e), replace=replace
                )
                for e in events
            ]
        begin = offset - (len(word.group()) if word else 0)
        return self._keywords(path, text, begin, Range(pos_at(text, begin), here))

    def _properties(self, path: str, object_type: str, replace: Range) -> list[Completion]:
        schema = self.schema(path)
        return [
            Completion(
                label=name,
                kind="property",
                detail=prop.type,
                documentation=options_line(prop.options) if prop.options else None,
                replace=replace,
            )
            for name, prop in sorted(schema.properties(object_type).items())
        ]

    def _keywords(self, path: str, text: str, begin: int, replace: Range) -> list[Completion]:
        with self._parse_lock:
            terminals = expected_terminals(text[:begin])
        if terminals is None:
            return []
        out: dict[str, Completion] = {}
        for terminal in sorted(terminals):
            for word in terminal_words(terminal):
                if word[:1].isalpha():
                    out.setdefault(word, Completion(label=word, kind="keyword", replace=replace))
        previous = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\S", text[max(0, begin - 200) : begin])
        last = previous[-1] if previous else ""
        if "NAME" in terminals:
            schema = self.schema(path)
            if last == "object":
                for name in schema.object_types:
                    out.setdefault(name, Completion(label=name, kind="object", replace=replace))
            elif last in ("on", "or", "has", "not", "for"):
                for name in EVENTS:
                    out.setdefault(
                        name,
                        Completion(label=name, kind="event", documentation=attributes_line(name), replace=replace),
                    )
            if last != "object":
                for name in schema.object_types:
                    if schema.properties(name):
                        out.setdefault(name, Completion(label=name, kind="object", replace=replace))
        return list(out.values())

    def _workflow_names(self, path: str) -> dict[str, str]:
        _, results = self.results(path)
        return {workflow.name.value: file for file, result in results.items() for workflow in result.module.workflows}

    def _list_names(self, path: str) -> list[str]:
        _, results = self.results(path)
        names: set[str] = set()
        for result in results.values():
            for node in result.module.walk():
                if isinstance(node, n.AddToList | n.RemoveFromList | n.InList):
                    names.add(node.name.value)
                elif isinstance(node, n.SuppressClause):
                    names.update(item.value for item in node.lists)
                elif isinstance(node, n.EventRef) and node.name in ("list.added", "list.removed"):
                    names.update(item.value for item in event_attribute_values(node, "list"))
        return sorted(names)


def _is_below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _open_string(prefix: str) -> int | None:
    """The index of the `"` that opens a string still open at the end of `prefix`, else None."""
    start: int | None = None
    index = 0
    while index < len(prefix):
        char = prefix[index]
        if start is None:
            if char == "#":
                return None
            if char == '"':
                start = index
        elif char == "\\":
            index += 1
        elif char == '"':
            start = None
        index += 1
    return start


__all__ = [
    "SKIPPED_DIRS",
    "Completion",
    "Edit",
    "Hover",
    "LintResult",
    "Location",
    "Pos",
    "Range",
    "Symbol",
    "Workspace",
    "did_you_mean_fix",
    "line_edits",
    "offset_at",
    "pos_at",
    "span_range",
    "text_in",
]

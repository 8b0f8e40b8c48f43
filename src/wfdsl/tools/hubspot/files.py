"""Flow files in, `.wf` files out and back: what `wfdsl import`, `export` and `lint` do with paths.

The functions return data (texts, file names, problems); the CLI writes and prints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import attrs

from wfdsl.check import check_project
from wfdsl.diagnostics import Diagnostic, Severity
from wfdsl.schema import Schema
from wfdsl.spans import Span
from wfdsl.syntax.parser import ParseResult, parse
from wfdsl.syntax.project import Project
from wfdsl.tools.hubspot.export import ExportResult, export_workflow
from wfdsl.tools.hubspot.flows import FlowImport, import_flow_file
from wfdsl.tools.hubspot.locate import locate
from wfdsl.tools.hubspot.lockfile import LockError, LockFile, find_lock
from wfdsl.tools.hubspot.problems import Problem


def file_name(name: str, suffix: str) -> str:
    """A file name for a workflow name: lower case, runs of other characters as `-`.

    >>> file_name("Welcome series #2", ".wf")
    'welcome-series-2.wf'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return (slug or "workflow") + suffix


@attrs.frozen(kw_only=True)
class ImportedFile:
    """One flow file imported: where it came from, the result, and the `.wf` file name to write."""

    source: str
    result: FlowImport
    target: str | None


def import_files(paths: Sequence[str | Path], *, lock: LockFile, schema: Schema) -> list[ImportedFile]:
    """Import flow files; the texts that import are then checked together as one project,
    and their errors (with the JSON path of the statement) count as import errors."""
    results = [(str(path), import_flow_file(path, lock=lock, schema=schema)) for path in paths]
    names: dict[str, str] = {}
    out: list[ImportedFile] = []
    for source, result in results:
        target = file_name(result.name, ".wf") if result.name else None
        if result.ok and target is not None:
            if target in names:
                problem = Problem(
                    path="name",
                    message=f"another flow ({names[target]}) has a name that makes the same file {target}",
                    hint="rename one of the workflows in HubSpot",
                )
                result = attrs.evolve(result, text=None, problems=(*result.problems, problem))
            else:
                names[target] = source
        out.append(ImportedFile(source=source, result=result, target=target))
    return _check(out, schema)


def _check(files: list[ImportedFile], schema: Schema) -> list[ImportedFile]:
    ok = [f for f in files if f.result.ok and f.result.text is not None and f.target is not None]
    project = Project(files=tuple(parse(f.result.text or "", f.source) for f in ok))
    errors: dict[str, list[Diagnostic]] = {}
    for diagnostic in check_project(project, schema):
        if diagnostic.severity is Severity.ERROR:
            errors.setdefault(diagnostic.span.file, []).append(diagnostic)
    out = []
    for f in files:
        found = errors.get(f.source, [])
        if found:
            problems = [
                Problem(
                    path=f.result.json_path_at(d.span.line, d.span.col) or "",
                    message=f"[{d.name}] {d.message}",
                    hint=d.hint,
                )
                for d in found
            ]
            f = attrs.evolve(f, result=attrs.evolve(f.result, text=None, problems=(*f.result.problems, *problems)))
        out.append(f)
    return out


def export_files(project: Project, *, lock: LockFile, schema: Schema) -> list[tuple[ExportResult, str]]:
    """Every workflow of a project as flow JSON, with the file name to write it to."""
    return [
        (export_workflow(wf, lock=lock, schema=schema), file_name(wf.name.value, ".json")) for wf in project.workflows
    ]


@attrs.frozen(kw_only=True)
class FlowSources:
    """Flow JSON files imported in memory for `wfdsl lint`: the parsed texts, the import
    results and the JSON texts, by file path."""

    parsed: tuple[ParseResult, ...]
    imports: dict[str, FlowImport]
    texts: dict[str, str]

    def remap(self, diagnostic: Diagnostic) -> Diagnostic:
        """A diagnostic of an imported text, pointed at the JSON it came from."""
        path = diagnostic.span.file
        imported = self.imports.get(path)
        if imported is None:
            return diagnostic
        where = imported.json_path_at(diagnostic.span.line, diagnostic.span.col) or ""
        return Diagnostic(
            code=diagnostic.code,
            name=diagnostic.name,
            severity=diagnostic.severity,
            message=f"{where or 'flow'}: {diagnostic.message}",
            span=self.span(path, where),
            hint=diagnostic.hint,
        )

    def span(self, path: str, where: str) -> Span:
        line, col = locate(self.texts.get(path, ""), where)
        return Span(file=path, line=line, col=col, end_line=line, end_col=col + 1)

    def problems(self) -> list[Diagnostic]:
        """Import errors (what wfdsl cannot express) as `syntax` diagnostics at their JSON path."""
        out = []
        for path, imported in self.imports.items():
            for problem in imported.problems:
                if problem.error:
                    message = f"{problem.path or 'flow'}: {problem.message}"
                    out.append(Diagnostic.of("syntax", message, self.span(path, problem.path), hint=problem.hint))
        return out


def flow_sources(paths: Sequence[str | Path], *, schema: Schema) -> FlowSources:
    """Import flow files for linting, each with the closest `hubspot.lock.toml` (if any)."""
    parsed: list[ParseResult] = []
    imports: dict[str, FlowImport] = {}
    texts: dict[str, str] = {}
    for path in paths:
        found = find_lock(path)
        try:
            lock = LockFile.load(found) if found is not None else LockFile()
        except LockError:
            lock = LockFile()
        result = import_flow_file(path, lock=lock, schema=schema)
        imports[str(path)] = result
        try:
            texts[str(path)] = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            texts[str(path)] = ""
        if result.ok and result.text is not None:
            parsed.append(parse(result.text, str(path)))
    return FlowSources(parsed=tuple(parsed), imports=imports, texts=texts)

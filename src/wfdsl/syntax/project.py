"""Projects: paths in, parsed `.wf` files out (discovery, reading, parsing).

A project is a set of `.wf` files — the files named, and every `.wf` file
below each directory named, in sorted order.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from wfdsl.diagnostics import Diagnostic
from wfdsl.frozen import frozen
from wfdsl.syntax.nodes import Workflow
from wfdsl.syntax.parser import ParseResult, parse, parse_file


class SourceError(Exception):
    """A path that cannot be used as input (missing, unreadable, no workflows)."""


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """The `.wf` files named by `paths` (files, or directories searched recursively).

    >>> discover(["examples/welcome-series.wf"])
    [PosixPath('examples/welcome-series.wf')]
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*.wf") if p.is_file())
            if not inside:
                raise SourceError(f"{path}: no .wf files in this directory")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise SourceError(f"{path}: not a regular file")
        else:
            raise SourceError(f"{path}: no such file or directory")
    unique: list[Path] = []
    seen: set[Path] = set()
    for path in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


@frozen
class Project:
    """Parsed files of a project, with the syntax diagnostics of each."""

    files: tuple[ParseResult, ...]

    @property
    def workflows(self) -> tuple[Workflow, ...]:
        return tuple(w for f in self.files for w in f.module.workflows)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        return tuple(d for f in self.files for d in f.diagnostics)

    def source(self, path: str) -> str:
        for result in self.files:
            if result.module.path == path:
                return result.source
        return ""


def load_project(paths: Iterable[str | Path]) -> Project:
    """Discover and parse every file; raises SourceError for unusable paths."""
    results = []
    for path in discover(paths):
        try:
            results.append(parse_file(path))
        except OSError as error:
            raise SourceError(f"{path}: cannot read: {error.strerror or error}") from None
    return Project(files=tuple(results))


def project_from_text(text: str, path: str = "<stdin>") -> Project:
    """A one-file project from text (stdin, tests)."""
    return Project(files=(parse(text, path),))

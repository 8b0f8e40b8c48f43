"""Output formats: diagnostics in, text, JSON, GitHub annotations, SARIF 2.1.0 and statistics out.

Every function returns a string (or plain data); only the CLI prints.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wfdsl import __version__
from wfdsl.diagnostics import RULES, Diagnostic, Severity
from wfdsl.rules import DOCS_URL as DOCS_URL
from wfdsl.rules import help_uri as help_uri
from wfdsl.tools.render import Style, render_text, source_line

FORMAT_VERSION = "1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

Sources = Mapping[str, str]


def summary(diagnostics: Sequence[Diagnostic], files: int) -> dict[str, Any]:
    """Counts by severity and by check name."""
    by_severity = Counter(d.severity.value for d in diagnostics)
    return {
        "files": files,
        "errors": by_severity.get("error", 0),
        "warnings": by_severity.get("warning", 0),
        "infos": by_severity.get("info", 0),
        "by_name": dict(sorted(Counter(d.name for d in diagnostics).items())),
    }


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(diagnostics: Sequence[Diagnostic], files: int) -> str:
    """`Found 2 errors, 1 warning and 0 infos in 3 files.` or `No problems found in 3 files.`

    >>> summary_line([], 1)
    'No problems found in 1 file.'
    """
    counts = summary(diagnostics, files)
    where = _plural(files, "file")
    if not diagnostics:
        return f"No problems found in {where}."
    parts = [
        _plural(counts["errors"], "error"),
        _plural(counts["warnings"], "warning"),
        _plural(counts["infos"], "info"),
    ]
    return f"Found {parts[0]}, {parts[1]} and {parts[2]} in {where}."


def to_text(diagnostics: Sequence[Diagnostic], sources: Sources, *, style: Style | None = None) -> str:
    """Each diagnostic rendered with its source line and caret, separated by blank lines."""
    blocks = [render_text(d, sources.get(d.span.file, ""), style=style) for d in diagnostics]
    return "\n\n".join(blocks)


def statistics(diagnostics: Sequence[Diagnostic]) -> str:
    """One line per check: count, code, name, severity; most frequent first.

    >>> from wfdsl.spans import Span
    >>> s = Span(file="a.wf", line=1, col=1, end_line=1, end_col=2)
    >>> print(statistics([Diagnostic.of("syntax", "x", s)] * 2))
        2  WF001  syntax  (error)
    """
    counts = Counter((d.code, d.name, d.severity.value) for d in diagnostics)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
    return "\n".join(f"{count:5d}  {code}  {name}  ({severity})" for (code, name, severity), count in rows)


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {
        "code": d.code,
        "name": d.name,
        "severity": d.severity.value,
        "message": d.message,
        "hint": d.hint,
        "file": d.span.file,
        "line": d.span.line,
        "col": d.span.col,
        "end_line": d.span.end_line,
        "end_col": d.span.end_col,
    }


def to_json(diagnostics: Sequence[Diagnostic], *, files: int) -> str:
    """`{"format_version": "1", "diagnostics": [...], "summary": {...}}`."""
    document = {
        "format_version": FORMAT_VERSION,
        "diagnostics": [diagnostic_json(d) for d in diagnostics],
        "summary": summary(diagnostics, files),
    }
    import json  # here and below: the text format, the usual one, needs none of these

    return json.dumps(document, indent=2, ensure_ascii=False)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def to_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands, one annotation per line.

    >>> from wfdsl.spans import Span
    >>> span = Span(file="a.wf", line=2, col=3, end_line=2, end_col=4)
    >>> d = Diagnostic.of("syntax", "found `}`", span)
    >>> print(to_github([d]))
    ::error file=a.wf,line=2,col=3,endLine=2,endColumn=4,title=WF001 syntax::found `}`
    """
    lines = []
    for d in diagnostics:
        s = d.span
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        props = ",".join(
            [
                f"file={_escape_property(s.file)}",
                f"line={s.line}",
                f"col={s.col}",
                f"endLine={s.end_line}",
                f"endColumn={s.end_col}",
                f"title={_escape_property(f'{d.code} {d.name}')}",
            ]
        )
        lines.append(f"::{_GITHUB_LEVEL[d.severity]} {props}::{_escape_data(message)}")
    return "\n".join(lines)


_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def fingerprint(d: Diagnostic, sources: Sources) -> str:
    """An identity that survives moved lines: rule, file, the line's text, message."""
    import hashlib

    line = source_line(sources.get(d.span.file, ""), d.span.line) or ""
    key = "\x00".join([d.code, d.span.file, line.strip(), d.message])
    # surrogateescape: a file name that is not valid in the locale's encoding keeps its bytes
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def to_sarif(diagnostics: Sequence[Diagnostic], sources: Sources) -> str:
    """A SARIF 2.1.0 log with one run: every rule's metadata and one result per diagnostic."""
    from urllib.parse import quote

    rules = list(RULES.values())
    index = {rule.name: i for i, rule in enumerate(rules)}
    results = []
    for d in diagnostics:
        s = d.span
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": index[d.name],
                "level": _SARIF_LEVEL[d.severity],
                "message": {"text": message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": quote(os.fsencode(s.file.replace("\\", "/")))},
                            "region": {
                                "startLine": s.line,
                                "startColumn": s.col,
                                "endLine": s.end_line,
                                "endColumn": s.end_col,
                            },
                        }
                    }
                ],
                "partialFingerprints": {"wfdsl/v1": fingerprint(d, sources)},
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "wfdsl",
                        "version": __version__,
                        "informationUri": DOCS_URL,
                        "rules": [
                            {
                                "id": rule.code,
                                "name": rule.name,
                                "shortDescription": {"text": rule.summary},
                                "helpUri": help_uri(rule.name),
                                "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
                            }
                            for rule in rules
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
    import json

    return json.dumps(log, indent=2, ensure_ascii=False)


def render(
    fmt: str,
    diagnostics: Iterable[Diagnostic],
    sources: Sources,
    *,
    files: int,
    style: Style | None = None,
) -> str:
    """Dispatch on a format name: `text`, `json`, `github`, `sarif`."""
    items = list(diagnostics)
    if fmt == "json":
        return to_json(items, files=files)
    if fmt == "github":
        return to_github(items)
    if fmt == "sarif":
        return to_sarif(items, sources)
    return to_text(items, sources, style=style)

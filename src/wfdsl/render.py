"""Rendering: diagnostics in, human-readable text out (source line and caret)."""

from __future__ import annotations

from wfdsl.diagnostics import Diagnostic


def source_line(source: str, line: int) -> str | None:
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return None


def render_text(diagnostic: Diagnostic, source: str, *, color: bool = False) -> str:
    """`path:line:col: severity[name] message`, the source line as it is, a caret
    line under the span, then `hint: …` (SPEC §7).

    >>> from wfdsl.spans import Span
    >>> d = Diagnostic.of("syntax", "found `}`", Span(file="a.wf", line=1, col=5, end_line=1, end_col=6))
    >>> print(render_text(d, "abc {}"))
    a.wf:1:5: error[syntax] found `}`
    abc {}
        ^
    """
    span = diagnostic.span
    severity = diagnostic.severity.value
    header = f"{span.file}:{span.line}:{span.col}: {severity}[{diagnostic.name}] {diagnostic.message}"
    if color:
        colour = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}[severity]
        header = (
            f"\x1b[1m{span.file}:{span.line}:{span.col}:\x1b[0m "
            f"{colour}{severity}[{diagnostic.name}]\x1b[0m {diagnostic.message}"
        )
    out = [header]
    text = source_line(source, span.line)
    if text is not None:
        width = (span.end_col - span.col) if span.end_line == span.line else len(text) - span.col + 1
        width = max(1, min(width, max(1, len(text) - span.col + 1)))
        # The caret line keeps the source's tabs, so that the caret lines up in a terminal.
        lead = "".join("\t" if ch == "\t" else " " for ch in text[: span.col - 1])
        out.append(text)
        out.append(lead + "^" * width)
    if diagnostic.hint:
        out.append(f"hint: {diagnostic.hint}")
    return "\n".join(out)

"""Rendering: diagnostics in, human-readable text out (source line and caret)."""

from __future__ import annotations

from wfdsl.diagnostics import Diagnostic


def source_line(source: str, line: int) -> str | None:
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return None


def render_text(diagnostic: Diagnostic, source: str, *, color: bool = False) -> str:
    """`path:line:col: severity[name] message`, the source line, a caret, `hint:`.

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
        expanded = text.replace("\t", " ")
        width = (span.end_col - span.col) if span.end_line == span.line else len(text) - span.col + 1
        width = max(1, min(width, max(1, len(expanded) - span.col + 1)))
        out.append(f"  {expanded}")
        out.append("  " + " " * (span.col - 1) + "^" * width)
    if diagnostic.hint:
        out.append(f"  hint: {diagnostic.hint}")
    return "\n".join(out)

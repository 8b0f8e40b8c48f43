"""Rendering: diagnostics in, human-readable text out (source line and caret)."""

from __future__ import annotations

from collections.abc import Callable

from wfdsl.diagnostics import Diagnostic
from wfdsl.terminal import printable, width

#: Paints a piece of rendered text by its role: `location` (path:line:col),
#: `error`, `warning` or `info` (the `severity[name]` label). The CLI passes
#: click's styles; click then drops them where colour is off.
Style = Callable[[str, str], str]


def source_line(source: str, line: int) -> str | None:
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return None


def render_text(diagnostic: Diagnostic, source: str, *, style: Style | None = None) -> str:
    """`path:line:col: severity[name] message`, the source line as it is, a caret
    line under the span, then `hint: …`.

    >>> from wfdsl.spans import Span
    >>> d = Diagnostic.of("syntax", "found `}`", Span(file="a.wf", line=1, col=5, end_line=1, end_col=6))
    >>> print(render_text(d, "abc {}"))
    a.wf:1:5: error[syntax] found `}`
    abc {}
        ^
    """
    span = diagnostic.span
    severity = diagnostic.severity.value
    # Control characters of the file name, the message or the line are shown escaped
    # (`\x1b`): text from a file never drives the terminal.
    location = f"{printable(span.file)}:{span.line}:{span.col}:"
    label = f"{severity}[{diagnostic.name}]"
    if style is not None:
        location, label = style(location, "location"), style(label, severity)
    out = [f"{location} {label} {printable(diagnostic.message)}"]
    text = source_line(source, span.line)
    if text is not None:
        length = (span.end_col - span.col) if span.end_line == span.line else len(text) - span.col + 1
        length = max(1, min(length, max(1, len(text) - span.col + 1)))
        # The caret line keeps the source's tabs, so that the caret lines up in a terminal;
        # an escaped character is as many columns wide as its escape.
        lead = "".join("\t" if ch == "\t" else " " * width(ch) for ch in text[: span.col - 1])
        under = text[span.col - 1 : span.col - 1 + length]
        carets = max(1, sum(width(ch) for ch in under)) if under else length
        out.append(printable(text, keep_tabs=True))
        out.append(lead + "^" * carets)
    if diagnostic.hint:
        out.append(f"hint: {printable(diagnostic.hint)}")
    return "\n".join(out)

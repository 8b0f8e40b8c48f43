"""Problems found while converting between flow JSON and `.wf` text: values with a JSON path."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from wfdsl.spans import Span


@attrs.frozen(kw_only=True)
class Problem:
    """One problem with a flow: where (a JSON path like `actions[3].fields.delta`), what, how to fix.

    `error` problems stop the conversion of that flow; warnings do not.

    >>> Problem(path="actions[0].fields", message="no delta").render("f.json")
    'f.json: error: actions[0].fields: no delta'
    """

    path: str
    message: str
    error: bool = True
    hint: str | None = None
    span: Span | None = None  # where in a `.wf` file (export), instead of a JSON path

    def render(self, file: str, position: tuple[int, int] | None = None) -> str:
        """`file[:line:col]: severity: path: message` and the hint; `position` is where the
        JSON path is in the file's text (`wfdsl.tools.hubspot.locate`)."""
        severity = "error" if self.error else "warning"
        if self.span is not None:
            text = f"{self.span.file}:{self.span.line}:{self.span.col}: {severity}: {self.message}"
        else:
            where = f"{self.path}: " if self.path else ""
            at = f":{position[0]}:{position[1]}" if position else ""
            text = f"{file}{at}: {severity}: {where}{self.message}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


class FlowError(Exception):
    """Raised inside a conversion to stop at a problem that leaves nothing sensible to convert."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.message)


def join_path(base: str, *parts: str | int) -> str:
    """`join_path("actions[2]", "fields", "delta")` -> `actions[2].fields.delta`."""
    out = base
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out


def has_errors(problems: Sequence[Problem]) -> bool:
    return any(p.error for p in problems)

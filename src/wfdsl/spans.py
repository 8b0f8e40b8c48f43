"""Source positions: the `Span` every AST node, plan step and diagnostic carries."""

from __future__ import annotations

from wfdsl.frozen import frozen


@frozen(order=True)
class Span:
    """A region of a source file; lines and columns are 1-based, `end_col` exclusive.

    >>> Span(file="a.wf", line=1, col=1, end_line=1, end_col=9).render()
    'a.wf:1:1-1:9'
    """

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def render(self) -> str:
        return f"{self.file}:{self.line}:{self.col}-{self.end_line}:{self.end_col}"

    def to_json(self) -> list[object]:
        return [self.file, self.line, self.col, self.end_line, self.end_col]

    @classmethod
    def from_json(cls, data: list[object]) -> Span:
        file, line, col, end_line, end_col = data
        return cls(
            file=str(file),
            line=int(str(line)),
            col=int(str(col)),
            end_line=int(str(end_line)),
            end_col=int(str(end_col)),
        )

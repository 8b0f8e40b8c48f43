"""Syntax: the token the lexers hand the AST builders (a terminal's type, text and place).

Both lexers make these: `lalr`'s own, and Lark's on the error path (`Token.of_lark`).
"""

from __future__ import annotations

from typing import Any


class Token:
    """A terminal as the lexer found it: its type (terminal name), text and where it is.

    Lines and columns are 1-based; the end is exclusive, as in Lark.
    """

    __slots__ = ("type", "value", "line", "column", "end_line", "end_column")

    def __init__(self, type: str, value: str, line: int, column: int, end_line: int, end_column: int) -> None:
        self.type = type
        self.value = value
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column

    def __str__(self) -> str:
        return self.value

    def __len__(self) -> int:
        return len(self.value)

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Token):
            return NotImplemented
        return (self.type, self.value, self.line, self.column, self.end_line, self.end_column) == (
            other.type,
            other.value,
            other.line,
            other.column,
            other.end_line,
            other.end_column,
        )

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def of_lark(cls, token: Any) -> Token:
        """The same token from Lark's lexer (the error path parses with Lark)."""
        return cls(token.type, str(token), token.line, token.column, token.end_line, token.end_column)

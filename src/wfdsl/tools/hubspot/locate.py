"""JSON paths in, positions out: where `actions[3].fields.delta` is in a flow file's text."""

from __future__ import annotations

import re
from json.decoder import scanstring  # type: ignore[attr-defined]

_SPACE = re.compile(r"[ \t\r\n]*")
_SCALAR = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def json_positions(text: str) -> dict[str, int]:
    """The offset of every value in a JSON text, by JSON path (`""` is the whole document).

    >>> positions = json_positions('{"a": [1, {"b": 2}]}')
    >>> positions["a[1].b"]
    16
    """
    out: dict[str, int] = {}
    try:
        _value(text, _skip(text, 0), "", out)
    except (ValueError, IndexError):  # malformed JSON: keep what was found
        pass
    return out


def locate(text: str, path: str) -> tuple[int, int]:
    """The line and column (1-based) of the value at `path`, or of its closest parent found.

    >>> locate('{\\n  "actions": [\\n    {"actionId": "1"}\\n  ]\\n}', "actions[0].actionId")
    (3, 18)
    """
    positions = json_positions(text)
    while path and path not in positions:
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    offset = positions.get(path, 0)
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _value(text: str, pos: int, path: str, out: dict[str, int]) -> int:
    out[path] = pos
    char = text[pos]
    if char == "{":
        pos = _skip(text, pos + 1)
        if text[pos] == "}":
            return pos + 1
        while True:
            if text[pos] != '"':
                raise ValueError("expected a key")
            key, pos = scanstring(text, pos + 1)
            pos = _skip(text, pos)
            if text[pos] != ":":
                raise ValueError("expected ':'")
            pos = _value(text, _skip(text, pos + 1), _join(path, key), out)
            pos = _skip(text, pos)
            if text[pos] == "}":
                return pos + 1
            if text[pos] != ",":
                raise ValueError("expected ','")
            pos = _skip(text, pos + 1)
    if char == "[":
        pos = _skip(text, pos + 1)
        if text[pos] == "]":
            return pos + 1
        index = 0
        while True:
            pos = _value(text, pos, f"{path}[{index}]", out)
            pos = _skip(text, pos)
            if text[pos] == "]":
                return pos + 1
            if text[pos] != ",":
                raise ValueError("expected ','")
            pos = _skip(text, pos + 1)
            index += 1
    if char == '"':
        end: int = scanstring(text, pos + 1)[1]
        return end
    match = _SCALAR.match(text, pos)
    if match is None:
        raise ValueError("expected a value")
    return match.end()

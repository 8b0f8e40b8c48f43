"""Terminal safety: text from data shown as text, never as terminal commands.

Workflow names, record ids, property values and file contents reach the text
output of `lint`, `simulate`, `status` and `explain`. A control character in
them (an escape sequence that recolours, moves the cursor, sets the window
title, clears the screen; a bidirectional override that shows text in
another order than it is) is written escaped instead: `\\x1b`, `\\x07`,
`\\u202e`. JSON output needs nothing of this: JSON escapes control
characters itself.

>>> printable("Welcome\\x07")
'Welcome\\\\x07'
>>> printable("tab\\there", keep_tabs=True)
'tab\\there'
"""

from __future__ import annotations

import functools
import re

#: C0 controls, DEL, C1 controls, and the bidirectional embedding, override and
#: isolate characters (the "Trojan Source" ones), plus the line and paragraph
#: separators that end a line in some terminals.
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
_UNSAFE_KEEP_TABS = "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"


@functools.cache
def _pattern(keep_tabs: bool) -> re.Pattern[str]:
    """The unsafe characters as a compiled pattern, made on first use: compiling both
    patterns was a noticeable part of the start of a `wfdsl lint` that prints nothing."""
    return re.compile(_UNSAFE_KEEP_TABS if keep_tabs else _UNSAFE)


def escape_char(ch: str) -> str:
    """How one unsafe character is written: `\\xNN` below 0x100, else `\\uNNNN`."""
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep_tabs: bool = False) -> str:
    """`text` with every control character escaped (tabs kept with `keep_tabs`, for
    source lines whose caret lines up under them). Newlines are escaped too: call it
    on one line, or on each line of a block."""
    pattern = _pattern(keep_tabs)
    if pattern.search(text) is None:
        return text
    return pattern.sub(lambda match: escape_char(match.group()), text)


def printable_lines(text: str) -> str:
    """Each line of a block made `printable` (the block's own line breaks kept)."""
    return "\n".join(printable(line, keep_tabs=True) for line in text.split("\n"))


def width(ch: str) -> int:
    """How many columns `ch` takes once `printable` (1 for a safe character)."""
    return len(printable(ch, keep_tabs=True))

"""Edits for the editor: the line-wise edits between two texts (formatting), and the
replacement a diagnostic's "did you mean" hint suggests (quick fixes)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from wfdsl.tools.lsp.values import Edit, Range, pos_at

# ---------------------------------------------------------------- edits


def line_edits(old: str, new: str) -> list[Edit]:
    """The smallest line-wise edits that turn `old` into `new`.

    >>> [(e.range.start.line, e.range.end.line, e.text) for e in line_edits("a\\nb\\nc\\n", "a\\nB\\nc\\n")]
    [(1, 2, 'B\\n')]
    """
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    starts = [0]
    for item in a:
        starts.append(starts[-1] + len(item))
    edits: list[Edit] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        rng = Range(pos_at(old, starts[i1]), pos_at(old, starts[i2]))
        edits.append(Edit(range=rng, text="".join(b[j1:j2])))
    return edits


_HINT_WORD = re.compile(r'did you mean (?:`([^`]+)`|"((?:[^"\\]|\\.)*)")\?')
_NAME_RUN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*")


def did_you_mean_fix(found: str, hint: str | None) -> str | None:
    """The text that replaces `found` (the text a diagnostic's range covers) as its hint suggests.

    >>> did_you_mean_fix("form.submited", "did you mean `form.submitted`?")
    'form.submitted'
    >>> did_you_mean_fix("contact.fristname", "did you mean `firstname`?")
    'contact.firstname'
    >>> did_you_mean_fix('"Welcom"', 'did you mean "Welcome"?')
    '"Welcome"'
    """
    if not hint:
        return None
    match = _HINT_WORD.search(hint)
    if match is None:
        return None
    if match.group(2) is not None:
        suggestion = match.group(2)
        if found.startswith('"') and found.endswith('"') and len(found) >= 2:
            return '"' + suggestion + '"'
        return suggestion.replace('\\"', '"').replace("\\\\", "\\")
    suggestion = match.group(1)
    if found.startswith('"') and len(found) >= 2:
        return '"' + suggestion + '"'
    # The closest run of name characters (a whole dotted name, or one of its parts) is the misspelling.
    best: tuple[float, int, int] | None = None
    for run in _NAME_RUN.finditer(found):
        for start, end in _parts(run.group(), run.start()):
            ratio = difflib.SequenceMatcher(None, found[start:end].lower(), suggestion.lower()).ratio()
            if best is None or ratio > best[0]:
                best = (ratio, start, end)
    if best is None:
        return None
    _, start, end = best
    return found[:start] + suggestion + found[end:]


def _parts(word: str, offset: int) -> Iterator[tuple[int, int]]:
    """(start, end) of every run of consecutive dot-separated parts of `word`."""
    pieces = word.split(".")
    bounds: list[tuple[int, int]] = []
    at = offset
    for piece in pieces:
        bounds.append((at, at + len(piece)))
        at += len(piece) + 1
    for i in range(len(bounds)):
        for j in range(i, len(bounds)):
            yield bounds[i][0], bounds[j][1]

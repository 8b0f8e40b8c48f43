"""9. The language server while typing: one edit re-checked against a whole lint, and requests.

The project is the generated one of measurement 2, written to a temporary
directory and opened as an editor would: `wfdsl.tools.lsp.analysis.Workspace`, the
part of `wfdsl lsp` that does the work (the server adds only the protocol).
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from benchmarks.common import Row, Size, interleaved
from benchmarks.parsing import generate, line_count, parse_and_check
from wfdsl.syntax.parser import parse
from wfdsl.tools.lsp.analysis import Pos, Workspace


def run(size: Size) -> list[Row]:
    files = generate(size.lines)
    lines = line_count(files)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, text in files:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
        first = str(root / files[0][0])
        original = files[0][1]
        ws = Workspace(roots=[root])
        ws.open(first, original)
        ws.lint(first)  # the first check parses every file once
        edits = itertools.count()
        where = Pos(2, 4)

        def recheck() -> object:
            ws.open(first, original + f"\n# edit {next(edits)}\n")
            return ws.lint(first)

        def requests() -> object:
            ws.open(first, original + f"\n# edit {next(edits)}\n")
            return [ws.hover(first, where), ws.complete(first, where), ws.symbols(first)]

        def parse_one() -> object:
            return parse(original + f"\n# edit {next(edits)}\n", files[0][0])

        t = interleaved(
            [
                ("lint", lambda: parse_and_check(files)),
                ("recheck", recheck),
                ("parse", parse_one),
                ("requests", requests),
            ],
            size.reps,
        )
    m = f"9. language server, {lines:,} lines in {len(files)} files"
    ratio = t["recheck"] / t["lint"]
    return [
        Row(
            measurement=m,
            contender="`wfdsl lint` of the project (parse + check)",
            value=f"{t['lint']:.2f} s",
            ratio="1.00x",
        ),
        Row(
            measurement=m,
            contender="re-check after an edit to one file (one file re-parsed)",
            value=f"{t['recheck']:.2f} s",
            ratio=f"{ratio:.2f}x",
            target="<= 0.5x a lint",
            met=ratio <= 0.5,
        ),
        Row(
            measurement=m,
            contender=f"parse of the edited file alone ({original.count(chr(10)) + 1} lines)",
            value=f"{t['parse'] * 1e3:.1f} ms",
            ratio="1.00x",
        ),
        Row(
            measurement=m,
            contender="hover + completion + outline after an edit (that file re-parsed)",
            value=f"{t['requests'] * 1e3:.1f} ms",
            ratio=f"{t['requests'] / t['parse']:.2f}x",
            target="<= 1.5x the parse",
            met=t["requests"] <= 1.5 * t["parse"],
        ),
    ]

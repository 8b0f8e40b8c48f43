"""Syntax: the grammar file in, the Lark parser built from it out, kept across processes.

Lark's parser words syntax errors and recovers from them, answers editors'
completion, and is what `tablegen` reads the parse table from; text that
parses needs none of it (`lalr`).

Building the LALR parser from `grammar/wfdsl.lark` takes about a second, so
it is kept twice over in the temp directory. Lark's own cache (`cache=True`)
keeps the analysed grammar, but loading it still rebuilds every rule,
terminal, parse-table entry and lexer in Python, most of a cold start's parse.
A snapshot of the built parser, pickled by this module, loads in a fraction
of that. Both are keyed by the grammar, Lark's version and Python's, so a
stale one is never used; a snapshot that is missing, not the user's own, or
unreadable is built again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lark import Lark

# Lark, pickle and tempfile are imported when a parser is loaded: well-formed text is
# parsed without them (`lalr`), and a cold start that never needs them does not pay for them.

GRAMMAR_NAME = "wfdsl.lark"

#: Changed when what a snapshot holds changes shape.
_SNAPSHOT_FORMAT = "1"


def grammar_path() -> Path:
    """The grammar file: inside the installed package, else the source checkout."""
    # Not `importlib.resources`: for a package on disk it finds the same file, and
    # importing it (with zipfile) costs a cold start more than reading the file.
    package = Path(__file__).resolve().parents[1]
    packaged = package / "grammar" / GRAMMAR_NAME
    if packaged.is_file():
        return packaged
    return package.parents[1] / "grammar" / GRAMMAR_NAME


def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")


def load_parser(**options: Any) -> Lark:
    """The grammar's Lark parser with `options`, from the snapshot when there is one.

    The snapshot is keyed by the grammar and the versions, not by `options`: every
    caller in a process passes the same ones (`parser.lark_parser`).
    """
    from lark import Lark

    text = grammar_text()
    path = _snapshot_path(text)
    parser = _read_snapshot(path) if path is not None else None
    if parser is None:
        parser = Lark(text, cache=True, **options)
        if path is not None:
            _write_snapshot(parser, path)
    return parser


def _snapshot_path(text: str) -> Path | None:
    import hashlib
    import tempfile

    import lark

    if not hasattr(os, "getuid"):  # no owner to check the file against: Lark's cache alone
        return None
    key = "\0".join((text, lark.__version__, sys.version, _SNAPSHOT_FORMAT))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return Path(tempfile.gettempdir()) / f".wfdsl_parser_{os.getuid()}_{digest}.pickle"


def _read_snapshot(path: Path) -> Lark | None:
    import pickle

    from lark import Lark

    try:
        with path.open("rb") as f:
            status = os.fstat(f.fileno())
            # Only a file of this user's that nobody else may write is unpickled.
            if status.st_uid != os.getuid() or status.st_mode & 0o022:
                return None
            parser = pickle.load(f)
    except Exception:  # missing, truncated, or from an incompatible Lark: build again
        return None
    return _interned(parser) if isinstance(parser, Lark) else None


def _interned(parser: Lark) -> Lark:
    """The parser with the names it looks up on every token interned again.

    Lark interns the names of terminals and rules; strings read back from a pickle
    are not, and comparing equal but distinct strings in the parse table's
    dictionaries made parsing measurably slower.
    """
    table = parser.parser.parser.parser.parse_table
    for terminal in parser.terminals:
        terminal.name = sys.intern(terminal.name)
    for rule in parser.rules:
        rule.origin.name = sys.intern(str(rule.origin.name))
        for symbol in rule.expansion:
            symbol.name = sys.intern(str(symbol.name))
    lexer = parser.parser.lexer
    for basic in (*lexer.lexers.values(), lexer.root_lexer):
        basic.ignore_types = frozenset(map(sys.intern, basic.ignore_types))
        basic.newline_types = frozenset(map(sys.intern, basic.newline_types))
        basic.user_callbacks = {sys.intern(name): call for name, call in basic.user_callbacks.items()}
    table.states = {
        state: {sys.intern(name): action for name, action in actions.items()} for state, actions in table.states.items()
    }
    return parser


def _write_snapshot(parser: Lark, path: Path) -> None:
    import io
    import pickle
    import tempfile

    buffer = io.BytesIO()
    try:
        _pickler()(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(parser)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".wfdsl_parser_")  # readable by the user alone
        with os.fdopen(handle, "wb") as f:
            f.write(buffer.getvalue())
        os.replace(temporary, path)  # whole or not at all, for a process reading it now
    except Exception:  # a read-only temp directory, say: the next start builds again
        return


def _lark_action(name: str) -> object:
    from lark.parsers import lalr_analysis

    return getattr(lalr_analysis, name)


def _pickler() -> type:
    import importlib
    import pickle
    import types

    from lark.parsers import lalr_analysis

    class Pickler(pickle.Pickler):
        """Pickles what plain pickle cannot in a Lark parser: its `re` module, and the
        `Shift` and `Reduce` actions by name (the parser compares them by identity)."""

        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, types.ModuleType):
                return importlib.import_module, (obj.__name__,)
            if obj is lalr_analysis.Shift:
                return _lark_action, ("Shift",)
            if obj is lalr_analysis.Reduce:
                return _lark_action, ("Reduce",)
            return NotImplemented

    return Pickler

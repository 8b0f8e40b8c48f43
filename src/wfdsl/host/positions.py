"""Input positions: an events file + what was committed of it -> where to read on.

`wfdsl run --events FILE` commits, with each unit, the position after the
last line it took (line number, byte offset) and what identifies the file
(device and inode, the SHA-256 of its first line). On a restart the file is
read on from there when it is the same file; a rotated one (another file at
the path, a shorter one, another first line) is read from its start.
`Reader` reads lines on a thread, following a growing file like `tail -F`.

>>> import io
>>> rotation(InputPosition(source="events.jsonl", line=1, offset=3, fingerprint=fingerprint(b"ab\\n")),
...          io.BytesIO(b"xy\\nmore\\n"))
'its first line changed since it was read (replaced or truncated and written again)'
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import attrs

from wfdsl.runtime.protocols import InputPosition, ServiceStore, StateStore
from wfdsl.stores.protocols import MetaStore


class Meta:
    """Service metadata kept in the store when it can (a `MetaStore`), else here."""

    def __init__(self, store: StateStore) -> None:
        self._store = store if isinstance(store, MetaStore) else None
        self._local: dict[str, Any] = {}

    def get(self, name: str, default: Any = None) -> Any:
        if self._store is not None:
            return self._store.get_meta(name, default)
        return self._local.get(name, default)

    def set(self, name: str, value: Any) -> None:
        if self._store is not None:
            self._store.set_meta(name, value)
        else:
            self._local[name] = value


#: The first line of an events file is fingerprinted up to this many bytes.
FINGERPRINT_BYTES = 64 * 1024


def fingerprint(first_line: bytes) -> str:
    """The fingerprint of an events file: SHA-256 (hex) of its first line (at most 64 KiB)."""
    return hashlib.sha256(first_line[:FINGERPRINT_BYTES]).hexdigest()


def first_line_fingerprint(stream: IO[bytes]) -> str | None:
    """The fingerprint of the file behind `stream` as it is now (None when it has no
    complete first line yet). Leaves the stream's position where it was."""
    try:
        head = os.pread(stream.fileno(), FINGERPRINT_BYTES, 0)
    except (AttributeError, OSError, ValueError):
        try:  # a stream without a file (BytesIO): read it and go back
            here = stream.tell()
            stream.seek(0)
            head = stream.read(FINGERPRINT_BYTES)
            stream.seek(here)
        except (AttributeError, OSError, ValueError):
            return None
    end = head.find(b"\n")
    if end < 0 and len(head) < FINGERPRINT_BYTES:
        return None
    return fingerprint(head if end < 0 else head[: end + 1])


def _size(stream: IO[bytes]) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        try:
            here = stream.tell()
            size = stream.seek(0, os.SEEK_END)
            stream.seek(here)
            return size
        except (AttributeError, OSError, ValueError):
            return None


def file_identity(stream: IO[bytes]) -> tuple[int, int] | None:
    """(device, inode) of the file behind `stream`, None when it has none."""
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def rotation(saved: InputPosition, stream: IO[bytes]) -> str | None:
    """Why `stream` is not the file `saved` belongs to (None when it is): another file
    at the path, a file shorter than the position, or a different first line."""
    ident = file_identity(stream)
    if ident is not None and saved.inode is not None and (saved.device, saved.inode) != ident:
        return "it is another file than the one read before (rotated)"
    size = _size(stream)
    if size is not None and size < saved.offset:
        return f"it is shorter ({size} bytes) than where reading stopped ({saved.offset}): truncated"
    if saved.fingerprint is not None and first_line_fingerprint(stream) != saved.fingerprint:
        return "its first line changed since it was read (replaced or truncated and written again)"
    return None


@attrs.frozen
class Line:
    number: int
    end: int  # byte offset just after the line
    text: bytes
    ident: tuple[int, int] | None = None  # (device, inode) of the file it was read from
    fingerprint: str | None = None  # of that file's first line


EOF = object()


class Reader(threading.Thread):
    """Reads lines on a thread so the loop can wait for input and timers at once.

    Following a file (`tail -F`), it notices rotation while it waits for new
    lines: the file truncated (shorter than what was read, or its first line
    changed) is read again from its start; another file at the path (the old one
    renamed away) is opened and read from its start once the old one is read to
    its end. Each is said on the log."""

    def __init__(
        self,
        stream: IO[bytes],
        start_line: int,
        follow: bool,
        poll: float,
        *,
        path: str | None = None,
        fingerprint: str | None = None,
        log: Callable[[str], None] = lambda text: None,
    ) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.number = start_line
        self.follow = follow
        self.poll = poll
        self.path = path
        self.fingerprint = fingerprint
        self.log = log
        self.file_ident = file_identity(stream) if path is not None else None
        self.opened: list[IO[bytes]] = []  # files opened here after a rotation (closed on halt)
        self.lines: queue.Queue[Any] = queue.Queue(maxsize=10_000)
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def _put(self, text: bytes) -> None:
        self.number += 1
        end = self.stream.tell() if self.stream.seekable() else 0
        if self.number == 1:
            self.fingerprint = fingerprint(text)
        self.lines.put(Line(self.number, end, text, self.file_ident, self.fingerprint))

    def _rotated(self) -> bool:
        """At the end of the file: start again if it was rotated (see the class docs)."""
        if self.path is None or not self.stream.seekable():
            return False
        position = self.stream.tell()
        try:
            size = os.fstat(self.stream.fileno()).st_size
        except OSError:
            return False
        if size < position or (
            self.fingerprint is not None
            and self.number >= 1
            and first_line_fingerprint(self.stream) not in (None, self.fingerprint)
        ):
            self.log(f"wfdsl run: {self.path} was truncated; reading it from the start")
            self.stream.seek(0)
            self._restart(self.file_ident)
            return True
        try:
            now = os.stat(self.path)
        except OSError:
            return False  # moved away and not there again yet
        if self.file_ident is not None and (now.st_dev, now.st_ino) != self.file_ident:
            try:
                fresh = open(self.path, "rb")  # noqa: SIM115 - closed when the reader halts
            except OSError:
                return False
            self.log(f"wfdsl run: {self.path} was rotated (a new file is at its path); reading it from the start")
            self.opened.append(fresh)
            self.stream = fresh
            self._restart(file_identity(fresh))
            return True
        return False

    def _restart(self, ident: tuple[int, int] | None) -> None:
        self.number = 0
        self.file_ident = ident
        self.fingerprint = None

    def run(self) -> None:
        partial = b""
        try:
            while not self.halt.is_set():
                chunk = self.stream.readline()
                if not chunk:
                    if not self.follow:
                        break
                    if not partial and self._rotated():
                        continue
                    time.sleep(self.poll)
                    continue
                partial += chunk
                if not partial.endswith(b"\n") and self.follow:
                    continue  # a line still being written
                self._put(partial)
                partial = b""
            if partial:
                self._put(partial)
        except BaseException as error:  # reported by the loop
            self.error = error
        self.lines.put(EOF)

    def close(self) -> None:
        self.halt.set()
        for handle in self.opened:
            handle.close()


class Positions:
    """Where reading an events file stopped: kept by a `ServiceStore` (with what
    identifies the file), else in the metadata (the offset alone)."""

    def __init__(self, store: StateStore, meta: Meta) -> None:
        self._service = store if isinstance(store, ServiceStore) else None
        self.meta = meta

    @staticmethod
    def key(source: str) -> str:
        """A file's position is kept under its resolved path."""
        return os.path.realpath(source)

    def saved(self, source: str) -> InputPosition | None:
        """The position committed for `source`, None when there is none."""
        key = self.key(source)
        saved = self._service.input_position(key) if self._service is not None else None
        if saved is None:
            # A store written before positions identified their file: the offset alone.
            old = self.meta.get("input")
            if isinstance(old, dict) and old.get("source") == source:
                saved = InputPosition(source=key, line=int(old["line"]), offset=int(old["offset"]))
        return saved

    def save(self, source: str, item: Line) -> None:
        """Commit (in the open unit) that `source` was read up to and with `item`."""
        if source == "-":
            return
        device, inode = item.ident if item.ident is not None else (None, None)
        position = InputPosition(
            source=self.key(source),
            line=item.number,
            offset=item.end,
            device=device,
            inode=inode,
            fingerprint=item.fingerprint,
        )
        if self._service is not None:
            self._service.set_input_position(position)
        else:
            self.meta.set("input", {"source": source, "line": item.number, "offset": item.end})


__all__ = [
    "EOF",
    "FINGERPRINT_BYTES",
    "Line",
    "Meta",
    "Positions",
    "Reader",
    "file_identity",
    "first_line_fingerprint",
    "fingerprint",
    "rotation",
]

"""`wfdsl status`: a store URL in; workflows, waiting enrollments, timers and stats out."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.cli.defaults import DEFAULT_STORE
from wfdsl.host.operate import StatusReport, store_status
from wfdsl.host.registry import ConfigError, open_store
from wfdsl.runtime.protocols import DeadLetter, utc
from wfdsl.stores.errors import StoreError
from wfdsl.stores.sqlitedb import sqlite_options
from wfdsl.terminal import printable


def _short(value: str | None) -> str:
    return "-" if value is None else value.replace("+00:00", "Z")


def _count(number: int, word: str) -> str:
    if number == 1:
        return f"1 {word}"
    return f"{number} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def render_status(report: StatusReport) -> str:
    """The text form of a `StatusReport` (names, ids and reasons come from data: each
    is made `printable`)."""
    lines = []
    totals = report.totals
    lines.append(
        " · ".join(
            [
                _count(totals.workflows, "workflow"),
                f"{totals.waiting} waiting",
                _count(totals.timers, "timer"),
                _count(totals.history, "history entry"),
                *([_count(report.dead_letter_count, "dead letter")] if report.dead_letter_count else []),
            ]
        )
    )
    if report.workflows:
        lines.append("")
        lines.append("Workflows")
        names = [printable(w.name) for w in report.workflows]
        width = max(len(name) for name in names)
        for name, w in zip(names, report.workflows, strict=True):
            s = w.stats
            lines.append(
                f"  {name:<{width}}  {'on ' if w.active else 'off'}  "
                f"enrolled {s['enrolled']}  active {s['active']}  completed {s['completed']}  "
                f"unenrolled {s['unenrolled']}  goal_met {s['goal_met']}  "
                f"emailed {s['emailed']}  converted {s['converted']}  "
                f"conversion {s['conversion_rate']:.2f}"
            )
    if report.waiting:
        lines.append("")
        lines.append(f"Waiting enrollments ({len(report.waiting)} of {totals.waiting})")
        for e in report.waiting:
            where = f"at {printable(e.step)}" if e.step else "starting"
            until = f"until {_short(_iso(e.until))}" if e.until else ""
            event = f"for {printable(e.waiting_for)}" if e.waiting_for else ""
            record = printable(f"{e.object}:{e.id}")
            lines.append("  " + "  ".join(x for x in (record, printable(e.workflow), where, event, until) if x))
    if report.timers:
        lines.append("")
        lines.append(f"Next timers ({len(report.timers)} of {totals.timers})")
        for t in report.timers:
            lines.append(
                f"  {_short(_iso(t.due))}  {printable(t.kind):<8}  {printable(t.workflow)}  "
                f"{printable(t.enrollment or t.key)}"
            )
    if report.dead_letters:
        lines.append("")
        lines.append(f"Dead letters ({len(report.dead_letters)} of {report.dead_letter_count}, newest last)")
        for d in report.dead_letters:
            lines.append(f"  #{d.n}  {_short(_iso(d.at))}  {printable(d.kind):<5}  {_where(d)}: {printable(d.reason)}")
    return "\n".join(lines) + "\n"


def _where(letter: DeadLetter) -> str:
    """`events.jsonl:12` for an input line; the workflow, record and enrollment for a timer."""
    if letter.source is not None:
        source = printable(letter.source)
        return f"{source}:{letter.line}" if letter.line is not None else source
    record = printable(f"{letter.object}:{letter.id}") if letter.object is not None else ""
    workflow = printable(letter.workflow or "")
    return " ".join(x for x in (workflow, record, printable(letter.enrollment or "")) if x)


@contextmanager
def store_errors(url: str) -> Iterator[None]:
    """Errors of reading a store as messages (exit 2): a damaged file (corrupted pages:
    `database disk image is malformed`), a file that cannot be read, a locked one."""
    try:
        yield
    except (sqlite3.DatabaseError, StoreError) as error:
        fail(f"cannot read store {url!r}: {error} (is the file damaged? restore it from a backup)")
    except OSError as error:
        fail(f"cannot read store {url!r}: {error.strerror or error}")


def open_existing_store(url: str) -> Any:
    """The store a URL names; exits 2 when it is a SQLite file that does not exist (reading
    or pruning a store must not create an empty one)."""
    if url.startswith("sqlite:"):
        try:
            path = sqlite_options(url)[0]
        except StoreError as error:
            fail(f"cannot open store {url!r}: {error}")
        if path != ":memory:" and not Path(path).exists():
            fail(f"{path}: no such state store (run `wfdsl run` first, or check --store)")
    try:
        with store_errors(url):
            return open_store(url)
    except ConfigError as error:
        fail(str(error))


@click.command("status")
@click.option(
    "--store",
    "store_url",
    default=DEFAULT_STORE,
    show_default=True,
    metavar="URL",
    help="The state store to report on.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--limit", type=click.IntRange(0), default=20, show_default=True, help="Waiting enrollments and timers to list."
)
def status(store_url: str, fmt: str, limit: int) -> None:
    """Show the workflows, waiting enrollments, next timers and stats of a state store."""
    store = open_existing_store(store_url)
    with store_errors(store_url):
        report = store_status(store, limit=limit)
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_status(report), nl=False)
    sys.exit(int(Exit.OK))

"""`wfdsl status`: a store URL in; workflows, waiting enrollments, timers and stats out."""

from __future__ import annotations

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
from wfdsl.host.operate import status_report
from wfdsl.host.registry import ConfigError, open_store
from wfdsl.stores.errors import StoreError
from wfdsl.stores.sqlitedb import sqlite_options
from wfdsl.terminal import printable


def _short(value: str | None) -> str:
    return "-" if value is None else value.replace("+00:00", "Z")


def _count(number: int, word: str) -> str:
    if number == 1:
        return f"1 {word}"
    return f"{number} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def _printable(value: Any) -> Any:
    """The report with every text made `printable` (names, ids and reasons come from data)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


def render_status(report: dict[str, Any]) -> str:
    """The text form of `status_report`."""
    lines = []
    totals = report["totals"]
    dead = report["dead_letters"]
    lines.append(
        " · ".join(
            [
                _count(totals["workflows"], "workflow"),
                f"{totals['waiting']} waiting",
                _count(totals["timers"], "timer"),
                _count(totals["history"], "history entry"),
                *([_count(dead["count"], "dead letter")] if dead["count"] else []),
            ]
        )
    )
    if report["workflows"]:
        lines.append("")
        lines.append("Workflows")
        width = max(len(w["name"]) for w in report["workflows"])
        for w in report["workflows"]:
            s = w["stats"]
            lines.append(
                f"  {w['name']:<{width}}  {'on ' if w['active'] else 'off'}  "
                f"enrolled {s['enrolled']}  active {s['active']}  completed {s['completed']}  "
                f"unenrolled {s['unenrolled']}  goal_met {s['goal_met']}  "
                f"emailed {s['emailed']}  converted {s['converted']}  "
                f"conversion {s['conversion_rate']:.2f}"
            )
    if report["waiting"]:
        lines.append("")
        lines.append(f"Waiting enrollments ({len(report['waiting'])} of {totals['waiting']})")
        for e in report["waiting"]:
            where = f"at {e['step']}" if e["step"] else "starting"
            until = f"until {_short(e['until'])}" if e["until"] else ""
            event = f"for {e['waiting_for']}" if e["waiting_for"] else ""
            lines.append(
                "  " + "  ".join(x for x in (f"{e['object']}:{e['id']}", e["workflow"], where, event, until) if x)
            )
    if report["timers"]:
        lines.append("")
        lines.append(f"Next timers ({len(report['timers'])} of {totals['timers']})")
        for t in report["timers"]:
            lines.append(f"  {_short(t['due'])}  {t['kind']:<8}  {t['workflow']}  {t['enrollment'] or t['key']}")
    if dead["recent"]:
        lines.append("")
        lines.append(f"Dead letters ({len(dead['recent'])} of {dead['count']}, newest last)")
        for d in dead["recent"]:
            where = _where(d)
            lines.append(f"  #{d['n']}  {_short(d['at'])}  {d['kind']:<5}  {where}: {d['reason']}")
    return "\n".join(lines) + "\n"


def _where(letter: dict[str, Any]) -> str:
    """`events.jsonl:12` for an input line; the workflow, record and enrollment for a timer."""
    if letter.get("source") is not None:
        return f"{letter['source']}:{letter['line']}" if letter.get("line") is not None else str(letter["source"])
    record = f"{letter['object']}:{letter['id']}" if letter.get("object") is not None else ""
    return " ".join(x for x in (letter.get("workflow") or "", record, letter.get("enrollment") or "") if x)


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
        report = status_report(store, limit=limit)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(render_status(_printable(report)), nl=False)
    sys.exit(int(Exit.OK))

"""`hubspot.lock.toml`: a portal's ids <-> the names `.wf` text uses (lists, emails, owners…).

`wfdsl import` writes it (every id it met, with its name), `wfdsl export`
reads it. An id the file does not name imports as a placeholder name such as
`list 178` (and is added to the file); a name the file does not know exports
as a placeholder id `wfdsl:lists:Newsletter`, which HubSpot refuses until the
real id is filled in. Both come with a warning.
"""

from __future__ import annotations

import sys
from pathlib import Path

import attrs

from wfdsl.spans import Span
from wfdsl.tools.hubspot.problems import Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LOCK_NAME = "hubspot.lock.toml"

#: Table name -> what one entry is (for placeholders and messages), in file order.
TABLES: dict[str, str] = {
    "lists": "list",
    "marketing_emails": "email",
    "forms": "form",
    "owners": "owner",
    "users": "user",
    "pipelines": "pipeline",
    "stages": "stage",
    "workflows": "workflow",
    "event_types": "event",
}

#: Tables whose unknown ids stay as they are (pipeline and stage ids such as
#: `closedwon` are readable values by themselves): no placeholder, no warning.
VERBATIM_TABLES = frozenset({"pipelines", "stages"})

_PLACEHOLDER = "wfdsl:"


class LockError(Exception):
    """A lock file that cannot be read or used; the message names the file."""


@attrs.define(kw_only=True)
class LockFile:
    """Ids and names of one portal, per table (`lists`, `marketing_emails`, `owners`…).

    >>> lock = LockFile()
    >>> problems: list[Problem] = []
    >>> lock.name_for("lists", "178", "actions[0].fields.list_id", problems)
    'list 178'
    >>> lock.id_for("lists", "list 178", "", problems)
    '178'
    >>> lock.id_for("lists", "Newsletter", "steps", problems)
    'wfdsl:lists:Newsletter'
    >>> lock.name_for("lists", "wfdsl:lists:Newsletter", "", problems)
    'Newsletter'
    """

    tables: dict[str, dict[str, str]] = attrs.field(factory=lambda: {name: {} for name in TABLES})
    path: Path | None = None
    changed: bool = False

    @classmethod
    def load(cls, path: str | Path) -> LockFile:
        """Read a lock file; raises LockError when it is unreadable or malformed."""
        path = Path(path)
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except OSError as error:
            raise LockError(f"{path}: cannot read: {error.strerror or error}") from None
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise LockError(f"{path}: not valid TOML: {error}") from None
        lock = cls(path=path)
        for table, entries in data.items():
            if table not in TABLES:
                known = ", ".join(TABLES)
                raise LockError(f"{path}: unknown table [{table}]; expected one of {known}")
            if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
                raise LockError(f'{path}: [{table}] must map ids to names, e.g. "178" = "Newsletter"')
            lock.tables[table] = {str(k): str(v) for k, v in entries.items()}
        return lock

    def name_for(self, table: str, ident: str, path: str, problems: list[Problem]) -> str:
        """The name of a portal id; a placeholder name (and a warning) for an unknown id."""
        entries = self.tables[table]
        if ident in entries:
            return entries[ident]
        prefix = f"{_PLACEHOLDER}{table}:"
        if ident.startswith(prefix):  # a placeholder id export wrote for an unknown name
            return ident[len(prefix) :]
        if table in VERBATIM_TABLES:
            return ident
        name = f"{TABLES[table]} {ident}"
        entries[ident] = name
        self.changed = True
        problems.append(
            Problem(
                path=path,
                message=f"{TABLES[table]} id {ident} is not in {LOCK_NAME}; imported as {name!r}",
                error=False,
                hint=f'name it in [{table}] of {LOCK_NAME} ("{ident}" = "…") and in the .wf text',
            )
        )
        return name

    def id_for(self, table: str, name: str, where: str, problems: list[Problem], span: Span | None = None) -> str:
        """The portal id of a name; a placeholder id (and a warning) for an unknown name."""
        for ident, known in self.tables[table].items():
            if known == name:
                return ident
        if table in VERBATIM_TABLES:
            return name
        problems.append(
            Problem(
                path=where,
                message=f"{TABLES[table]} {name!r} is not in {LOCK_NAME}; exported as the placeholder id "
                f"{_PLACEHOLDER}{table}:{name}",
                error=False,
                hint=f'add its HubSpot id to [{table}] of {LOCK_NAME} ("<id>" = "{name}")',
                span=span,
            )
        )
        return f"{_PLACEHOLDER}{table}:{name}"

    def merge(self, other: LockFile) -> None:
        """Add the entries of `other` that this file does not have."""
        for table, entries in other.tables.items():
            for ident, name in entries.items():
                if ident not in self.tables[table]:
                    self.tables[table][ident] = name
                    self.changed = True

    def render(self) -> str:
        """The file's text: tables in a fixed order, ids sorted, so that it diffs well."""
        out = ["# HubSpot ids and the names .wf files use for them; written by `wfdsl import`, read by `wfdsl export`."]
        for table in TABLES:
            entries = self.tables[table]
            if not entries:
                continue
            out.append("")
            out.append(f"[{table}]")
            for ident in sorted(entries, key=_id_order):
                out.append(f"{_toml_string(ident)} = {_toml_string(entries[ident])}")
        return "\n".join(out) + "\n"

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.render(), encoding="utf-8")


def _id_order(ident: str) -> tuple[int, int, str]:
    return (0, int(ident), "") if ident.isdigit() else (1, 0, ident)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def find_lock(start: str | Path) -> Path | None:
    """The closest `hubspot.lock.toml` at or above `start` (a file or directory)."""
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / LOCK_NAME
        if candidate.is_file():
            return candidate
    return None

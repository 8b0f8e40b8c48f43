"""Schema and config: config files in, the CRM schema and lint settings out.

A project schema lives in the closest `wfdsl.toml` (`[schema]` table) or
`pyproject.toml` (`[tool.wfdsl.schema]` table) found walking up from the
linted path; without one the built-in schema of common HubSpot standard
properties applies. The format is documented in docs/configuration.md.

>>> BUILTIN.property("contact", "lifecyclestage").type
'enumeration'
>>> BUILTIN.property("contact", "date_of_birth").type
'string'
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfdsl.catalog import STANDARD_OBJECT_TYPES
from wfdsl.diagnostics import RULES
from wfdsl.frozen import frozen

#: The property types
PROPERTY_TYPES: tuple[str, ...] = ("string", "number", "bool", "date", "datetime", "enumeration")

CONFIG_FILE = "wfdsl.toml"
PYPROJECT = "pyproject.toml"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        self.reason = message
        super().__init__(f"{path}: {message}")


@frozen
class Property:
    """One property of an object type: its name, type, (enumerations) options, and whether
    it holds personal data that `--redact` hides (`sensitive`)."""

    name: str
    type: str
    options: tuple[str, ...] = ()
    sensitive: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "enumeration":
            out["options"] = list(self.options)
        if self.sensitive:
            out["sensitive"] = True
        return out


@frozen(eq=False)
class Schema:
    """Object types and their properties.

    `source` is the config file the schema came from, or None for the
    built-in schema; unknown properties are errors with a project schema
    and warnings with the built-in one.
    """

    objects: Mapping[str, Mapping[str, Property]]
    custom_types: frozenset[str] = frozenset()
    source: str | None = None

    @property
    def is_builtin(self) -> bool:
        return self.source is None

    @property
    def object_types(self) -> tuple[str, ...]:
        """Standard object types, then the custom ones in sorted order."""
        return STANDARD_OBJECT_TYPES + tuple(sorted(self.custom_types))

    def has_object(self, name: str) -> bool:
        return name in STANDARD_OBJECT_TYPES or name in self.custom_types

    def properties(self, object_type: str) -> Mapping[str, Property]:
        return self.objects.get(object_type, {})

    def property(self, object_type: str, name: str) -> Property | None:
        return self.properties(object_type).get(name)

    def to_json(self) -> dict[str, Any]:
        """The schema as plain data (`wfdsl schema --format json`)."""
        return {
            "source": self.source,
            "objects": {
                name: {
                    "custom": name in self.custom_types,
                    "properties": {p: prop.to_json() for p, prop in sorted(self.properties(name).items())},
                }
                for name in self.object_types
            },
        }

    def to_toml(self) -> str:
        """The schema in the config file format, with `builtin = false` (it is complete)."""
        import json  # here: only `wfdsl schema` writes TOML

        out = ["[schema]", "builtin = false"]
        for name in self.object_types:
            header = f"schema.custom.{name}" if name in self.custom_types else f"schema.{name}"
            out.append("")
            out.append(f"[{header}]")
            for pname, prop in sorted(self.properties(name).items()):
                flag = ", sensitive = true" if prop.sensitive else ""
                if prop.type == "enumeration":
                    options = ", ".join(json.dumps(o) for o in prop.options)
                    out.append(f'{pname} = {{ type = "enumeration", options = [{options}]{flag} }}')
                elif flag:
                    out.append(f'{pname} = {{ type = "{prop.type}"{flag} }}')
                else:
                    out.append(f'{pname} = "{prop.type}"')
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------- built-in schema


def _enum(*options: str) -> tuple[str, tuple[str, ...]]:
    return ("enumeration", options)


_LIFECYCLE = _enum(
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
_LEAD_STATUS = _enum(
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)

#: Properties every standard object has.
_COMMON: dict[str, str | tuple[str, tuple[str, ...]]] = {
    "hs_object_id": "string",
    "createdate": "datetime",
    "hs_createdate": "datetime",
    "lastmodifieddate": "datetime",
    "hs_lastmodifieddate": "datetime",
    "hubspot_owner_id": "string",
}

_BUILTIN_PROPERTIES: dict[str, dict[str, str | tuple[str, tuple[str, ...]]]] = {
    "contact": {
        "email": "string",
        "firstname": "string",
        "lastname": "string",
        "salutation": "string",
        "phone": "string",
        "mobilephone": "string",
        "fax": "string",
        "address": "string",
        "city": "string",
        "state": "string",
        "zip": "string",
        "country": "string",
        "company": "string",
        "jobtitle": "string",
        "website": "string",
        "industry": "string",
        "message": "string",
        "hs_language": "string",
        # A single-line text property in HubSpot, not a date (date-property-type).
        "date_of_birth": "string",
        "lifecyclestage": _LIFECYCLE,
        "hs_lead_status": _LEAD_STATUS,
        "hubspotscore": "number",
        "num_associated_deals": "number",
        "recent_deal_amount": "number",
        "total_revenue": "number",
        "annualrevenue": "string",
        "email_opt_out": "bool",
        "hs_email_optout": "bool",
        "hs_analytics_source": _enum(
            "ORGANIC_SEARCH",
            "PAID_SEARCH",
            "EMAIL_MARKETING",
            "SOCIAL_MEDIA",
            "REFERRALS",
            "OTHER_CAMPAIGNS",
            "DIRECT_TRAFFIC",
            "OFFLINE",
            "PAID_SOCIAL",
            "AI_REFERRALS",
        ),
        "closedate": "datetime",
        "first_conversion_date": "datetime",
        "recent_conversion_date": "datetime",
        "notes_last_contacted": "datetime",
        "hs_lifecyclestage_customer_date": "datetime",
        "hs_lifecyclestage_lead_date": "datetime",
    },
    "company": {
        "name": "string",
        "domain": "string",
        "website": "string",
        "phone": "string",
        "address": "string",
        "city": "string",
        "state": "string",
        "zip": "string",
        "country": "string",
        "description": "string",
        # An enumeration in HubSpot whose options vary by portal; a string here.
        "industry": "string",
        "numberofemployees": "number",
        "annualrevenue": "number",
        "lifecyclestage": _LIFECYCLE,
        "hs_lead_status": _LEAD_STATUS,
        "type": _enum("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"),
        "num_associated_contacts": "number",
        "num_associated_deals": "number",
        "total_revenue": "number",
        "closedate": "datetime",
        "notes_last_contacted": "datetime",
    },
    "deal": {
        "dealname": "string",
        "amount": "number",
        # Stages belong to a pipeline, and every portal's pipelines have their own stage
        # ids (the default pipeline's are `appointmentscheduled` … `closedwon`); a string
        # here, so that no portal's stages are refused. A project schema can list them.
        "dealstage": "string",
        "pipeline": "string",
        "closedate": "date",
        "dealtype": _enum("newbusiness", "existingbusiness"),
        "hs_priority": _enum("low", "medium", "high"),
        "description": "string",
        "hs_forecast_probability": "number",
        "hs_is_closed_won": "bool",
        "num_associated_contacts": "number",
    },
    "ticket": {
        "subject": "string",
        "content": "string",
        "hs_pipeline": "string",
        # Pipeline stages, as `dealstage`: their ids vary by pipeline and portal.
        "hs_pipeline_stage": "string",
        "hs_ticket_priority": _enum("LOW", "MEDIUM", "HIGH", "URGENT"),
        "hs_ticket_category": _enum(
            "PRODUCT_ISSUE",
            "BILLING_ISSUE",
            "FEATURE_REQUEST",
            "GENERAL_INQUIRY",
        ),
        "source_type": _enum("EMAIL", "CHAT", "PHONE", "FORM"),
        "closed_date": "datetime",
        "time_to_close": "number",
    },
    "quote": {"hs_title": "string", "hs_expiration_date": "date", "hs_quote_amount": "number"},
    "lead": {"hs_lead_name": "string"},
    "call": {"hs_call_title": "string", "hs_call_duration": "number"},
    "meeting": {"hs_meeting_title": "string", "hs_meeting_start_time": "datetime"},
    "task": {
        "hs_task_subject": "string",
        "hs_task_status": _enum("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        "hs_task_priority": _enum("NONE", "LOW", "MEDIUM", "HIGH"),
    },
    "invoice": {
        "hs_invoice_status": _enum("draft", "open", "paid", "voided"),
        "hs_due_date": "date",
    },
    "payment": {"hs_initial_amount": "number"},
    "subscription": {"hs_status": "string", "hs_next_payment_due_date": "date"},
    "conversation": {},
    "feedback": {"hs_survey_type": "string", "hs_response_value": "number"},
    "user": {"hs_email": "string", "hs_given_name": "string", "hs_family_name": "string"},
    "goal": {"hs_goal_name": "string", "hs_target_amount": "number"},
}


def _property(name: str, spec: str | tuple[str, tuple[str, ...]]) -> Property:
    if isinstance(spec, tuple):
        return Property(name=name, type=spec[0], options=spec[1])
    return Property(name=name, type=spec)


def _builtin() -> Schema:
    objects: dict[str, dict[str, Property]] = {}
    for object_type in STANDARD_OBJECT_TYPES:
        props = {**_COMMON, **_BUILTIN_PROPERTIES.get(object_type, {})}
        objects[object_type] = {name: _property(name, spec) for name, spec in props.items()}
    return Schema(objects=objects)


#: The built-in schema of common HubSpot standard properties.
BUILTIN: Schema = _builtin()


# ---------------------------------------------------------------- config files


def search_dirs(start: str | Path) -> list[Path]:
    """The directories a config file is looked for in, closest first: `start` (or
    its directory) and its parents up to the project root — the first directory
    that has a `.git` (a repository or a worktree) — or up to a filesystem
    boundary (a mount point), whichever comes first. A config file above the
    project cannot change how it is checked.

    >>> search_dirs("/") == [Path("/").absolute()]
    True
    """
    here = Path(start).absolute()
    if not here.is_dir():
        here = here.parent
    found: list[Path] = []
    for directory in (here, *here.parents):
        found.append(directory)
        if (directory / ".git").exists():
            break
        try:
            if directory.parent != directory and directory.stat().st_dev != directory.parent.stat().st_dev:
                break
        except OSError:
            continue  # a directory that does not exist (yet): go on up
    return found


def find_config(start: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The closest config file at or above `start` (within the project: see
    `search_dirs`) and its wfdsl table.

    In each directory `wfdsl.toml` comes first, then a `pyproject.toml` that
    has a `[tool.wfdsl]` table (one without it is passed over).
    """
    for directory in search_dirs(start):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate, _read_toml(candidate)
        candidate = directory / PYPROJECT
        if candidate.is_file():
            data = _read_toml(candidate)
            tool = data.get("tool")
            if isinstance(tool, dict) and "wfdsl" in tool:
                table = tool["wfdsl"]
                if not isinstance(table, dict):
                    raise ConfigError(candidate, "`tool.wfdsl` must be a table")
                return candidate, table
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    # Imported here: most projects have no config file, and `wfdsl lint` starts faster.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(path, f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, f"not valid TOML: {error}") from None


def load_schema(start: str | Path | None = None) -> Schema:
    """The schema for files at `start` (a file or directory; default: the working directory).

    Raises ConfigError for a config file that cannot be used.

    >>> load_schema("/").is_builtin
    True
    """
    found = find_config(Path.cwd() if start is None else start)
    if found is None:
        return BUILTIN
    path, table = found
    return schema_from_config(table, str(path), prefix=_prefix(path))


def load_schema_file(path: str | Path) -> Schema:
    """The schema of one named config file (`wfdsl.toml` or `pyproject.toml`)."""
    file = Path(path)
    data = _read_toml(file)
    if file.name == PYPROJECT:
        tool = data.get("tool", {})
        table = tool.get("wfdsl", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise ConfigError(file, "`tool.wfdsl` must be a table")
        data = table
    return schema_from_config(data, str(file), prefix=_prefix(file))


def _prefix(path: Path) -> str:
    return "tool.wfdsl." if path.name == PYPROJECT else ""


@frozen
class LintSettings:
    """The `[lint]` table: default `select`/`ignore` rule names and `strict` for `wfdsl lint`."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    strict: bool = False


_LINT_KEYS = ("select", "ignore", "strict")


def load_lint_settings(start: str | Path | None = None, *, config: str | Path | None = None) -> LintSettings:
    """The `[lint]` settings of the closest config file (or of `config`), else the defaults.

    >>> load_lint_settings("/")
    LintSettings(select=(), ignore=(), strict=False)
    """
    if config is not None:
        file = Path(config)
        data = _read_toml(file)
        if file.name == PYPROJECT:
            tool = data.get("tool", {})
            data = tool.get("wfdsl", {}) if isinstance(tool, dict) else {}
        return lint_settings_from_config(data, str(file), prefix=_prefix(file))
    found = find_config(Path.cwd() if start is None else start)
    if found is None:
        return LintSettings()
    path, table = found
    return lint_settings_from_config(table, str(path), prefix=_prefix(path))


def load_config(start: str | Path | None = None) -> tuple[Schema, LintSettings]:
    """`load_schema(start)` and `load_lint_settings(start)` from one search and one read
    of the config file (what `wfdsl lint` needs).

    >>> schema, settings = load_config("/")
    >>> schema.is_builtin, settings
    (True, LintSettings(select=(), ignore=(), strict=False))
    """
    found = find_config(Path.cwd() if start is None else start)
    if found is None:
        return BUILTIN, LintSettings()
    path, table = found
    prefix = _prefix(path)
    return (
        schema_from_config(table, str(path), prefix=prefix),
        lint_settings_from_config(table, str(path), prefix=prefix),
    )


def lint_settings_from_config(table: Mapping[str, Any], source: str, *, prefix: str = "") -> LintSettings:
    """LintSettings from a parsed config table; rule names or codes are checked."""
    raw = table.get("lint", {})
    if not isinstance(raw, dict):
        raise ConfigError(source, f"`{prefix}lint` must be a table")
    for key in raw:
        if key not in _LINT_KEYS:
            raise ConfigError(
                source,
                f"unknown key `{prefix}lint.{key}`; expected {_alternatives(key, _LINT_KEYS)}",
            )
    strict = raw.get("strict", False)
    if not isinstance(strict, bool):
        raise ConfigError(source, f"`{prefix}lint.strict` must be true or false")
    return LintSettings(
        select=_rule_names(raw.get("select", []), source, f"{prefix}lint.select"),
        ignore=_rule_names(raw.get("ignore", []), source, f"{prefix}lint.ignore"),
        strict=strict,
    )


def _rule_names(value: Any, source: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(source, f"`{where}` must be a list of check names or codes")
    codes = {rule.code: name for name, rule in RULES.items()}
    out: list[str] = []
    for item in value:
        name = item if item in RULES else codes.get(item.upper())
        if name is None:
            import difflib  # only for the message

            guess = difflib.get_close_matches(item, list(RULES), n=1)
            maybe = f" (did you mean `{guess[0]}`?)" if guess else ""
            raise ConfigError(source, f"`{where}`: unknown check `{item}`{maybe}")
        out.append(name)
    return tuple(dict.fromkeys(out))


_TOP_KEYS = ("schema", "lint")
_TABLE_KEYS = ("type", "options", "sensitive", "description", "label")


def schema_from_config(table: Mapping[str, Any], source: str, *, prefix: str = "") -> Schema:
    """A Schema from a parsed config table (the contents of `wfdsl.toml`).

    A config without a `schema` table gives the built-in schema.

    >>> s = schema_from_config({"schema": {"contact": {"renewal_date": "date"}}}, "wfdsl.toml")
    >>> (s.property("contact", "renewal_date").type, s.property("contact", "email").type)
    ('date', 'string')
    """
    for key in table:
        if key not in _TOP_KEYS:
            raise ConfigError(source, f"unknown key `{prefix}{key}`; expected {_alternatives(key, _TOP_KEYS)}")
    raw = table.get("schema")
    if raw is None:
        return BUILTIN
    if not isinstance(raw, dict):
        raise ConfigError(source, f"`{prefix}schema` must be a table")
    builtin = raw.get("builtin", True)
    if not isinstance(builtin, bool):
        raise ConfigError(source, f"`{prefix}schema.builtin` must be true or false")
    objects: dict[str, dict[str, Property]] = {
        t: dict(BUILTIN.properties(t)) if builtin else {} for t in STANDARD_OBJECT_TYPES
    }
    custom: set[str] = set()
    for key, value in raw.items():
        where = f"{prefix}schema.{key}"
        if key == "builtin":
            continue
        if key == "custom":
            if not isinstance(value, dict):
                raise ConfigError(source, f"`{where}` must be a table of custom object types")
            for name, props in value.items():
                cwhere = f"{where}.{name}"
                if not _NAME.match(name):
                    raise ConfigError(source, f"`{cwhere}`: `{name}` is not a valid object type name")
                if name in STANDARD_OBJECT_TYPES:
                    raise ConfigError(
                        source,
                        f"`{cwhere}`: `{name}` is a standard object type; "
                        f"declare its properties under [{prefix}schema.{name}]",
                    )
                custom.add(name)
                objects[name] = _properties(props, source, cwhere)
            continue
        if key not in STANDARD_OBJECT_TYPES:
            import difflib  # only for the message

            guess = difflib.get_close_matches(key, STANDARD_OBJECT_TYPES, n=1)
            maybe = f" (did you mean `{guess[0]}`?)" if guess else ""
            raise ConfigError(
                source,
                f"`{where}`: `{key}` is not a standard object type{maybe}; "
                f"declare custom object types under [{prefix}schema.custom.{key}]",
            )
        objects[key].update(_properties(value, source, where))
    for props in objects.values():
        # Every record of every object type has its id as `hs_object_id`.
        props.setdefault("hs_object_id", _property("hs_object_id", "string"))
    return Schema(objects=objects, custom_types=frozenset(custom), source=source)


def _alternatives(word: str, options: tuple[str, ...]) -> str:
    import difflib  # only for messages

    guess = difflib.get_close_matches(word, options, n=1)
    listed = ", ".join(f"`{o}`" for o in options)
    return f"one of {listed}" + (f" (did you mean `{guess[0]}`?)" if guess else "")


def _properties(value: Any, source: str, where: str) -> dict[str, Property]:
    if not isinstance(value, dict):
        raise ConfigError(source, f'`{where}` must be a table of properties (name = "type")')
    out: dict[str, Property] = {}
    for name, spec in value.items():
        pwhere = f"{where}.{name}"
        if not _NAME.match(name):
            raise ConfigError(source, f"`{pwhere}`: `{name}` is not a valid property name")
        out[name] = _property_spec(name, spec, source, pwhere)
    return out


def _property_spec(name: str, spec: Any, source: str, where: str) -> Property:
    sensitive = False
    if isinstance(spec, str):
        kind: Any = spec
        options: Any = None
    elif isinstance(spec, dict):
        for key in spec:
            if key not in _TABLE_KEYS:
                raise ConfigError(
                    source,
                    f"`{where}`: unknown key `{key}`; expected {_alternatives(key, _TABLE_KEYS)}",
                )
        kind = spec.get("type")
        options = spec.get("options")
        sensitive = spec.get("sensitive", False)
        if not isinstance(sensitive, bool):
            raise ConfigError(source, f"`{where}.sensitive` must be true or false")
        if not isinstance(kind, str):
            raise ConfigError(source, f"`{where}` needs a `type` (one of {', '.join(PROPERTY_TYPES)})")
    else:
        raise ConfigError(
            source,
            f'`{where}` must be a type name ("date") or a table ({{ type = "enumeration", options = [...] }})',
        )
    if kind not in PROPERTY_TYPES:
        raise ConfigError(
            source,
            f"`{where}`: unknown type `{kind}`; expected {_alternatives(kind, PROPERTY_TYPES)}",
        )
    if kind == "enumeration":
        if not isinstance(options, list) or not options or not all(isinstance(o, str) for o in options):
            raise ConfigError(source, f"`{where}`: an enumeration needs `options`, a non-empty list of strings")
        return Property(name=name, type=kind, options=tuple(options), sensitive=sensitive)
    if options is not None:
        raise ConfigError(source, f"`{where}`: `options` only apply to the type `enumeration`, not `{kind}`")
    return Property(name=name, type=kind, sensitive=sensitive)

"""Workflow tests: `*.wftest.toml` files in, one result per test case (pass, fail, xfail) out.

A test file names the workflow files to load, the records and events to
simulate (inline or as files, in the simulation-file shapes) and test cases that state what
must happen to a record in a workflow: enrolled or not and why, the actions
taken and when, goal met, converted, completed, unenrolled and why, stats.
docs/testing.md describes the format. `run_paths` is what `wfdsl test` calls.

>>> parse_time("2026-11-23T10:00:00Z", "at")
datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import tomllib

from wfdsl.compile.compiler import CompileFailed, load_plans
from wfdsl.host.explain import (
    DERIVED_REASONS,
    ExplainError,
    explain_record,
    resolve_record,
    why_not,
)
from wfdsl.host.simulate import Simulation
from wfdsl.plan.model import PlanError, ProjectPlan, WorkflowPlan
from wfdsl.runtime.engine import action_arguments
from wfdsl.runtime.inputs import (
    Seed,
    SimulationInputError,
    load_records,
    load_records_data,
    parse_event,
    read_events,
)
from wfdsl.runtime.protocols import Event
from wfdsl.syntax.project import SourceError

if TYPE_CHECKING:
    from wfdsl.host.inputcheck import InputCheck

__all__ = ["CaseResult", "TestFileError", "TestReport", "discover", "parse_time", "run_paths"]

SUFFIX = ".wftest.toml"

FILE_KEYS = ("workflows", "records", "events", "start", "until", "test")
SETUP_KEYS = ("records", "events", "start", "until")
CASE_KEYS = (
    "name",
    "workflow",
    "record",
    "enrolled",
    "reason",
    "goal_met",
    "converted",
    "completed",
    "unenrolled",
    "actions",
    "no_actions",
    "stats",
    "xfail",
    *SETUP_KEYS,
)
ACTION_KEYS = ("kind", "args", "at", "within")
BOOL_KEYS = ("goal_met", "converted", "completed")


class TestFileError(Exception):
    """A test file that cannot be used; `str()` is `FILE:LINE: message` (or `FILE: message`)."""

    __test__ = False  # not a pytest class

    def __init__(self, file: str, message: str, line: int | None = None) -> None:
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")
        self.file = file
        self.line = line
        self.message = message


@attrs.frozen(kw_only=True)
class CaseResult:
    """One test case: `status` is `pass`, `fail`, `xfail` (failed as expected) or `xpass`."""

    file: str
    name: str
    status: str
    problems: tuple[str, ...] = ()
    xfail: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "xpass")


@attrs.frozen(kw_only=True)
class TestReport:
    """The results of every case of every file, in order."""

    __test__ = False

    results: tuple[CaseResult, ...]

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.status == "pass")

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.failed)

    @property
    def xfailed(self) -> int:
        return sum(1 for r in self.results if r.status == "xfail")


def parse_time(value: Any, where: str, file: str = "", line: int | None = None) -> dt.datetime:
    """A TOML date-time or ISO 8601 text as aware UTC (naive values are UTC)."""
    when: dt.datetime
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise TestFileError(file, f"`{where}` is not an ISO 8601 time: {value!r}", line) from None
    else:
        raise TestFileError(file, f"`{where}` must be a date-time such as 2026-11-23T10:00:00Z, found {value!r}", line)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """The test files for `paths`: every `*.wftest.toml` below a directory; for a `.wf`
    file, its test file next to it or in `tests/` beside it (`x.wf` -> `x.wftest.toml`);
    any other file given by name is taken as a test file."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob(f"*{SUFFIX}") if p.is_file()))
        elif path.is_file() and path.suffix == ".wf":
            near = [path.with_name(path.stem + SUFFIX), path.parent / "tests" / (path.stem + SUFFIX)]
            hits = [p for p in near if p.is_file()]
            if not hits:
                raise TestFileError(
                    str(path), f"no test file for this workflow file (looked for {near[0]} and {near[1]})"
                )
            found.extend(hits)
        elif path.is_file():
            found.append(path)
        else:
            raise TestFileError(str(path), "no such file or directory")
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------- reading a file


def _jsonable(value: Any) -> Any:
    """TOML values as the JSON would hold them (dates as ISO text)."""
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text.replace("+00:00", "Z") if value.tzinfo is not None else text
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class _Lines:
    """Finds the line of a key in a test file, for messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tests = [i for i, line in enumerate(self.lines) if re.match(r"\s*\[\[\s*test\s*\]\]", line)]

    def of(self, key: str, case: int | None = None) -> int | None:
        if case is None:
            start, end = 0, self.tests[0] if self.tests else len(self.lines)
        else:
            if case >= len(self.tests):
                return None
            start = self.tests[case]
            end = self.tests[case + 1] if case + 1 < len(self.tests) else len(self.lines)
        pattern = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*[=.]")
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1 if case is not None else None


def _unknown_keys(
    table: Mapping[str, Any], allowed: Sequence[str], file: str, lines: _Lines, case: int | None, where: str
) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean `{close[0]}`?" if close else f"; expected one of {', '.join(allowed)}"
            raise TestFileError(file, f"{where}: unknown key `{key}`{hint}", lines.of(key, case))


@attrs.frozen(kw_only=True)
class _Setup:
    records: Any
    events: Any
    start: Any
    until: Any


@attrs.frozen(kw_only=True)
class _Case:
    index: int
    data: Mapping[str, Any]
    setup: _Setup


@attrs.frozen(kw_only=True)
class _File:
    path: Path
    text: str
    plans: ProjectPlan
    cases: tuple[_Case, ...]
    #: The first workflow file: where the project's schema is looked up.
    source: Path | None = None


def _load_file(path: Path) -> _File:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise TestFileError(file, f"cannot read: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column \d+\)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise TestFileError(file, f"invalid TOML: {message}", int(match.group(1)) if match else None) from None
    lines = _Lines(text)
    _unknown_keys(data, FILE_KEYS, file, lines, None, "test file")
    workflows = data.get("workflows")
    if isinstance(workflows, str):
        workflows = [workflows]
    if not isinstance(workflows, list) or not workflows or not all(isinstance(w, str) for w in workflows):
        raise TestFileError(
            file,
            "`workflows` must list the workflow files to load, relative "
            'to this file (e.g. workflows = ["../welcome.wf"])',
            lines.of("workflows"),
        )
    plans = _plans(path, workflows, lines)
    cases = data.get("test")
    if not isinstance(cases, list) or not cases:
        raise TestFileError(file, "no test cases: add a [[test]] table with a `name`")
    base = _Setup(
        records=data.get("records"), events=data.get("events"), start=data.get("start"), until=data.get("until")
    )
    out = []
    names: set[str] = set()
    for i, case in enumerate(cases):
        if not isinstance(case, dict):
            raise TestFileError(file, "`test` must be an array of tables ([[test]])")
        where = f"[[test]] #{i + 1}"
        _unknown_keys(case, CASE_KEYS, file, lines, i, where)
        name = case.get("name")
        if not isinstance(name, str) or not name:
            raise TestFileError(file, f"{where}: every test needs a `name`", lines.of("name", i))
        if name in names:
            raise TestFileError(file, f"{where}: duplicate test name {name!r}", lines.of("name", i))
        names.add(name)
        setup = attrs.evolve(base, **{k: case[k] for k in SETUP_KEYS if k in case})
        _validate_case(case, plans, file, lines, i)
        out.append(_Case(index=i, data=case, setup=setup))
    return _File(path=path, text=text, plans=plans, cases=tuple(out), source=path.parent / workflows[0])


def _plans(path: Path, workflows: list[str], lines: _Lines) -> ProjectPlan:
    file = str(path)
    targets = [path.parent / w for w in workflows]
    for target in targets:
        if not target.exists():
            raise TestFileError(file, f"workflow file {str(target)!r} does not exist", lines.of("workflows"))
    try:
        from wfdsl.schema import ConfigError, load_schema
    except ImportError:  # pragma: no cover - the schema layer ships with wfdsl
        schema = None
    else:
        try:
            schema = load_schema(targets[0])
        except ConfigError as error:
            raise TestFileError(file, str(error)) from None
    try:
        return load_plans([str(t) for t in targets], schema)
    except CompileFailed as failed:
        first = failed.diagnostics[0] if failed.diagnostics else None
        detail = "" if first is None else f": {first.span.file}:{first.span.line}: {first.message}"
        raise TestFileError(
            file,
            f"the workflows do not compile ({len(failed.diagnostics)} "
            f"error{'s' if len(failed.diagnostics) != 1 else ''}){detail}",
            lines.of("workflows"),
        ) from None
    except (SourceError, PlanError) as error:
        raise TestFileError(file, str(error), lines.of("workflows")) from None


def _validate_case(case: Mapping[str, Any], plans: ProjectPlan, file: str, lines: _Lines, i: int) -> None:
    where = f"[[test]] #{i + 1} ({case['name']})"
    names = [p.name for p in plans.workflows]
    workflow = case.get("workflow")
    if not isinstance(workflow, str):
        raise TestFileError(file, f"{where}: `workflow` (a workflow name) is required", lines.of("name", i))
    if workflow not in names:
        close = difflib.get_close_matches(workflow, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else f"; the workflows are {', '.join(repr(n) for n in names)}"
        raise TestFileError(file, f"{where}: unknown workflow {workflow!r}{hint}", lines.of("workflow", i))
    needs_record = [k for k in ("enrolled", "reason", "actions", "no_actions", *BOOL_KEYS, "unenrolled") if k in case]
    if needs_record and not isinstance(case.get("record"), str):
        raise TestFileError(
            file,
            f'{where}: `{needs_record[0]}` needs a `record` (e.g. record = "contact:c1")',
            lines.of(needs_record[0], i),
        )
    enrolled = case.get("enrolled")
    if enrolled is not None and not isinstance(enrolled, (bool, int)):
        raise TestFileError(file, f"{where}: `enrolled` must be true, false or a count", lines.of("enrolled", i))
    for key in BOOL_KEYS:
        if key in case and not isinstance(case[key], bool):
            raise TestFileError(file, f"{where}: `{key}` must be true or false", lines.of(key, i))
    for key in ("reason", "xfail"):
        if key in case and not isinstance(case[key], str):
            raise TestFileError(file, f"{where}: `{key}` must be a string", lines.of(key, i))
    if "unenrolled" in case and not isinstance(case["unenrolled"], (bool, str)):
        raise TestFileError(
            file, f'{where}: `unenrolled` must be a reason (e.g. "goal_met") or true/false', lines.of("unenrolled", i)
        )
    actions = case.get("actions", [])
    if not isinstance(actions, list):
        raise TestFileError(file, f"{where}: `actions` must be an array of tables", lines.of("actions", i))
    for action in actions:
        _validate_action(action, f"{where} actions", file, lines, i, timed=True)
    no_actions = case.get("no_actions", [])
    if not isinstance(no_actions, list):
        raise TestFileError(file, f"{where}: `no_actions` must be a list of action kinds", lines.of("no_actions", i))
    for action in no_actions:
        if not isinstance(action, str):
            _validate_action(action, f"{where} no_actions", file, lines, i, timed=False)
    plan = next(p for p in plans.workflows if p.name == workflow)
    for key, items in (("actions", actions), ("no_actions", no_actions)):
        for action in items:
            spec = {"kind": action} if isinstance(action, str) else action
            _producible(spec, plan, f"{where} {key}", file, lines.of(key, i))
    stats = case.get("stats")
    if stats is not None and not isinstance(stats, dict):
        raise TestFileError(
            file, f"{where}: `stats` must be a table, e.g. stats = {{ enrolled = 2 }}", lines.of("stats", i)
        )


def _producible(action: Mapping[str, Any], plan: WorkflowPlan, where: str, file: str, line: int | None) -> None:
    """An expectation must name an action kind and arguments that a step of the workflow
    can produce: a typo (`send_mail`, `priorty`) would otherwise pass without testing
    anything."""
    kind = str(action["kind"])
    produced: dict[str, set[str]] = {}
    for step in plan.steps.values():
        names = action_arguments(step)
        if names is not None:
            produced.setdefault(step.kind, set()).update(names)
    if kind not in produced:
        close = difflib.get_close_matches(kind, sorted(produced), n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        kinds = ", ".join(f"`{k}`" for k in sorted(produced)) or "none"
        raise TestFileError(
            file,
            f"{where}: no step of {plan.name!r} can produce the action `{kind}`{hint} (its actions: {kinds})",
            line,
        )
    for name in action.get("args", {}) or {}:
        if name not in produced[kind]:
            close = difflib.get_close_matches(name, sorted(produced[kind]), n=1, cutoff=0.6)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            listed = ", ".join(f"`{n}`" for n in sorted(produced[kind]))
            raise TestFileError(
                file,
                f"{where}: no `{kind}` step of {plan.name!r} has the argument `{name}`{hint} (its arguments: {listed})",
                line,
            )


def _validate_action(action: Any, where: str, file: str, lines: _Lines, i: int, *, timed: bool) -> None:
    line = lines.of("actions" if timed else "no_actions", i)
    if not isinstance(action, dict) or not isinstance(action.get("kind"), str):
        raise TestFileError(file, f'{where}: each action needs a `kind` (e.g. {{ kind = "send_email" }})', line)
    allowed = ACTION_KEYS
    for key in action:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            raise TestFileError(file, f"{where}: unknown key `{key}`{hint}", line)
    if "args" in action and not isinstance(action["args"], dict):
        raise TestFileError(file, f"{where}: `args` must be a table", line)
    if "at" in action:
        parse_time(action["at"], "at", file, line)
    if "within" in action:
        within = action["within"]
        if not isinstance(within, list) or len(within) != 2:
            raise TestFileError(file, f"{where}: `within` must be [from, to]", line)
        for bound in within:
            parse_time(bound, "within", file, line)


# ---------------------------------------------------------------- running


def _seed(value: Any, base: Path) -> tuple[Seed, list[tuple[str, str]]]:
    if value is None:
        return Seed(), []
    if isinstance(value, str):
        seed = load_records(base / value)
    elif isinstance(value, dict):
        seed = load_records_data(_jsonable(value), "records (inline)")
    else:
        raise SimulationInputError("records", 1, "`records` must be a file name or a table")
    return seed, [(r.object, r.id) for r in seed.records]


def _events(value: Any, base: Path) -> list[Event]:
    if value is None:
        return []
    if isinstance(value, str):
        return list(read_events(base / value))
    if isinstance(value, list):
        out = [parse_event(_jsonable(e), "events (inline)", n + 1) for n, e in enumerate(value)]
        for n in range(1, len(out)):
            if out[n].at < out[n - 1].at:
                raise SimulationInputError("events (inline)", n + 1, "events must be in time order")
        return out
    raise SimulationInputError("events", 1, "`events` must be a file name or an array of tables")


@attrs.define
class _Run:
    sim: Simulation
    seed: Seed
    events: list[Event]
    start: dt.datetime | None
    until: dt.datetime | None


def _setup_key(setup: _Setup) -> str:
    return json.dumps(_jsonable(attrs.asdict(setup)), sort_keys=True, default=str)


def _run(tf: _File, case: _Case, cache: dict[str, _Run], check: InputCheck | None = None) -> _Run:
    key = _setup_key(case.setup)
    if key in cache:
        return cache[key]
    base = tf.path.parent
    file = str(tf.path)
    lines = _Lines(tf.text)
    setup = case.setup
    try:
        seed, _ = _seed(setup.records, base)
        events = _events(setup.events, base)
        if check is not None:
            records_name = str(base / setup.records) if isinstance(setup.records, str) else f"{file} (records)"
            events_name = str(base / setup.events) if isinstance(setup.events, str) else f"{file} (events)"
            check.records(seed, records_name)
            events = list(check.events(events, events_name))
    except SimulationInputError as error:
        key = "events" if error.file.startswith("events") or error.file.endswith(".jsonl") else "records"
        line = lines.of(key, case.index) if key in case.data else lines.of(key)
        raise TestFileError(file, f"{error}", line) from None
    start = None if setup.start is None else parse_time(setup.start, "start", file)
    until = None if setup.until is None else parse_time(setup.until, "until", file)
    sim = Simulation(tf.plans, seed, start=start, until=until)
    try:
        sim.run(events)
    except SimulationInputError as error:
        raise TestFileError(file, str(error)) from None
    cache[key] = _Run(sim=sim, seed=seed, events=events, start=start, until=until)
    return cache[key]


def _short(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _action_text(expected: Mapping[str, Any]) -> str:
    text = str(expected["kind"])
    if expected.get("args"):
        text += " " + " ".join(f"{k}={_short(v)}" for k, v in expected["args"].items())
    if "at" in expected:
        text += f" at {parse_time(expected['at'], 'at').isoformat()}"
    if "within" in expected:
        low, high = (parse_time(b, "within").isoformat() for b in expected["within"])
        text += f" within {low} .. {high}"
    return text


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict) and isinstance(actual, Mapping):
        return all(k in actual and _same(actual[k], v) for k, v in expected.items())
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            return abs(float(actual) - float(expected)) < 1e-9
        except (TypeError, ValueError):
            return False
    return bool(_jsonable(actual) == _jsonable(expected))


def _matches(entry: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    detail = entry["detail"]
    if detail.get("action") != expected["kind"]:
        return False
    if not _same(detail, expected.get("args", {})):
        return False
    at = parse_time(entry["at"], "at")
    if "at" in expected and at != parse_time(expected["at"], "at"):
        return False
    if "within" in expected:
        low, high = (parse_time(b, "within") for b in expected["within"])
        if not low <= at <= high:
            return False
    return True


def _entry_line(entry: Mapping[str, Any]) -> str:
    detail = dict(entry["detail"])
    kind = detail.pop("action", entry["kind"])
    rest = " ".join(f"{k}={_short(v)}" for k, v in detail.items())
    return f"{entry['at']}  {kind}" + (f"  {rest}" if rest else "")


def _check_case(tf: _File, case: _Case, run: _Run) -> list[str]:
    data = case.data
    workflow = str(data["workflow"])
    problems: list[str] = []
    stats = data.get("stats")
    if stats is not None:
        actual = run.sim.stats().get(workflow, {})
        for key, value in stats.items():
            if key not in actual:
                problems.append(f"stats.{key}: no such stat (stats are {', '.join(sorted(actual))})")
            elif not _same(actual[key], value):
                problems.append(f"stats.{key}: expected {_short(value)}, got {_short(actual[key])}")
    ref = data.get("record")
    if not isinstance(ref, str):
        return problems
    known = [(r.object, r.id) for r in run.seed.records]
    known += [(e.object, e.id) for e in run.events if e.type == "record.created"]
    try:
        target = resolve_record(ref, known)
    except ExplainError as error:
        raise TestFileError(
            str(tf.path),
            f"[[test]] #{case.index + 1} ({data['name']}): {error}",
            _Lines(tf.text).of("record", case.index),
        ) from None
    key = f"{target[0]}:{target[1]}"
    plan = next(p for p in tf.plans.workflows if p.name == workflow)
    if plan.object != target[0]:
        raise TestFileError(
            str(tf.path),
            f"[[test]] #{case.index + 1} ({data['name']}): "
            f"{workflow!r} enrolls {plan.object} records, and "
            f"{key} is a {target[0]}",
            _Lines(tf.text).of("record", case.index),
        )
    entries = [e for e in run.sim.trace() if e["workflow"] == workflow and (e["object"], e["id"]) == target]
    kinds = [e["kind"] for e in entries]
    enrolled = kinds.count("enrolled")
    refusals = [str(e["detail"].get("reason")) for e in entries if e["kind"] == "not_enrolled"]
    explained: list[Any] = []

    def explain() -> Any:
        if not explained:
            explained.append(
                explain_record(tf.plans, run.seed, run.events, key, workflow=workflow, start=run.start, until=run.until)
            )
        return explained[0]

    def why() -> list[str]:
        lines = why_not(explain(), workflow)
        return [f"why (wfdsl explain): {lines[0]}", *(f"  {line}" for line in lines[1:])]

    expected = data.get("enrolled")
    if expected is not None:
        ok = (enrolled > 0) == expected if isinstance(expected, bool) else enrolled == expected
        if not ok:
            problems.append(
                f"enrolled: expected {_short(expected)}, got "
                f"{_short(enrolled > 0 if isinstance(expected, bool) else enrolled)}"
                f" — {key} was enrolled {enrolled} time"
                f"{'' if enrolled == 1 else 's'}"
            )
            if enrolled == 0:
                problems.extend(why())
    reason = data.get("reason")
    if reason is not None and reason not in refusals:
        derived: tuple[str, ...] = ()
        if reason in DERIVED_REASONS or not refusals:
            derived = explain().workflow(workflow).reasons
        if reason not in derived:
            got = ", ".join(dict.fromkeys([*refusals, *derived])) or "none"
            problems.append(f"reason: expected not_enrolled ({reason}), got: {got}")
    for flag, kind in (("goal_met", "goal_met"), ("converted", "converted"), ("completed", "completed")):
        if flag in data and (kind in kinds) != data[flag]:
            problems.append(f"{flag}: expected {_short(data[flag])}, got {_short(kind in kinds)}")
    if "unenrolled" in data:
        reasons = [str(e["detail"].get("reason")) for e in entries if e["kind"] == "unenrolled"]
        want = data["unenrolled"]
        if isinstance(want, bool):
            ok = bool(reasons) == want
        else:
            ok = want in reasons
        if not ok:
            got = f"unenrolled ({', '.join(reasons)})" if reasons else "not unenrolled"
            problems.append(f"unenrolled: expected {_short(want)}, got {got}")
    actions = [e for e in entries if e["kind"] == "action"]
    position = 0
    missing = []
    for want in data.get("actions", []):
        for i in range(position, len(actions)):
            if _matches(actions[i], want):
                position = i + 1
                break
        else:
            missing.append(want)
    for want in data.get("no_actions", []):
        spec = {"kind": want} if isinstance(want, str) else want
        found = [a for a in actions if _matches(a, spec)]
        if found:
            problems.append(f"no_actions: expected no {_action_text(spec)}, got:")
            problems.extend(f"  {_entry_line(a)}" for a in found)
    if missing and enrolled == 0 and expected is None:
        problems.extend(why())
    if missing:
        for want in missing:
            problems.append(f"actions: expected {_action_text(want)} (in this order), not found")
        problems.append(f"actions of {key} in {workflow!r}:" if actions else f"{key} had no actions in {workflow!r}")
        problems.extend(f"  {_entry_line(a)}" for a in actions)
    return problems


def _input_check(tf: _File, warn: Callable[[str], None] | None) -> InputCheck | None:
    """A checker of the file's records and events against the project's schema."""
    if warn is None:
        return None
    from wfdsl.host.inputcheck import InputCheck
    from wfdsl.schema import BUILTIN, ConfigError, load_schema

    try:
        schema = load_schema(tf.source) if tf.source is not None else BUILTIN
    except ConfigError:
        schema = BUILTIN
    return InputCheck(schema, warn)


def run_file(path: Path, keyword: str | None = None, warn: Callable[[str], None] | None = None) -> list[CaseResult]:
    """Run one test file (only the cases whose name contains `keyword`, ignoring case).
    Raises TestFileError when it is malformed."""
    tf = _load_file(path)
    check = _input_check(tf, warn)
    cache: dict[str, _Run] = {}
    results = []
    for case in tf.cases:
        if keyword and keyword.casefold() not in str(case.data["name"]).casefold():
            continue
        run = _run(tf, case, cache, check)
        problems = _check_case(tf, case, run)
        xfail = case.data.get("xfail")
        if xfail is not None:
            status = "xfail" if problems else "xpass"
        else:
            status = "fail" if problems else "pass"
        results.append(
            CaseResult(
                file=str(path), name=str(case.data["name"]), status=status, problems=tuple(problems), xfail=xfail
            )
        )
    return results


def junit_text(report: TestReport) -> str:
    """The report as JUnit XML, as CI systems read it: one `<testsuite>` per test file,
    one `<testcase>` per case (`classname` the file, `name` the case); a failure has a
    `<failure>` with the problems, an expected failure a `<skipped>`, and a case marked
    `xfail` that passed a `<failure>` saying so.

    >>> print(junit_text(TestReport(results=(CaseResult(file="a.wftest.toml", name="ok", status="pass"),))), end="")
    <?xml version="1.0" encoding="utf-8"?>
    <testsuites name="wfdsl test" tests="1" failures="0" errors="0" skipped="0">
      <testsuite name="a.wftest.toml" tests="1" failures="0" errors="0" skipped="0">
        <testcase classname="a.wftest.toml" name="ok" time="0" />
      </testsuite>
    </testsuites>
    """
    from xml.etree import ElementTree as ET

    def counts(results: Sequence[CaseResult]) -> dict[str, str]:
        return {
            "tests": str(len(results)),
            "failures": str(sum(1 for r in results if r.failed)),
            "errors": "0",
            "skipped": str(sum(1 for r in results if r.status == "xfail")),
        }

    root = ET.Element("testsuites", {"name": "wfdsl test", **counts(report.results)})
    files: dict[str, list[CaseResult]] = {}
    for result in report.results:
        files.setdefault(result.file, []).append(result)
    for file, results in files.items():
        suite = ET.SubElement(root, "testsuite", {"name": file, **counts(results)})
        for result in results:
            case = ET.SubElement(suite, "testcase", {"classname": file, "name": result.name, "time": "0"})
            if result.status == "fail":
                first = result.problems[0] if result.problems else "failed"
                failure = ET.SubElement(case, "failure", {"message": first})
                failure.text = "\n".join(result.problems)
            elif result.status == "xpass":
                ET.SubElement(case, "failure", {"message": f"marked xfail ({result.xfail}) but every expectation held"})
            elif result.status == "xfail":
                ET.SubElement(case, "skipped", {"message": f"expected failure: {result.xfail}"})
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def run_paths(
    paths: Iterable[str | Path], keyword: str | None = None, warn: Callable[[str], None] | None = None
) -> TestReport:
    """Discover and run the test files at or below `paths` (TestFileError when one is
    malformed: nothing is reported as passed from a file that cannot be read). With
    `keyword`, only the cases whose name contains it run."""
    files = discover(paths)
    if not files:
        raise TestFileError(", ".join(str(p) for p in paths), f"no test files (*{SUFFIX}) found")
    results: list[CaseResult] = []
    for path in files:
        results.extend(run_file(path, keyword, warn))
    return TestReport(results=tuple(results))

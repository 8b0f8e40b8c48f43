"""Explain: plans, records, events and one record in; every decision about that record, as a report and as text, out.

`explain_record` runs the simulation with an `ExplainObserver`
(`host.explain_observer`) attached to its engine, which changes nothing the
engine does, and turns what the observer collected into a report: per
workflow, the moments (a cause and the decisions it led to, each with the
criteria tree the engine evaluated), a one-line verdict, and for a record
that never enrolled, the criteria on the final state. `render_text` prints
it as `wfdsl explain` does.

>>> import datetime as dt
>>> from wfdsl.plan.model import ProjectPlan
>>> from wfdsl.host.simulate import load_records_data
>>> seed = load_records_data({"contact": [{"id": "c1"}]}, "records.json")
>>> report = explain_record(ProjectPlan(workflows=()), seed, [], "c1",
...                         start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
>>> report.record, report.workflows
(('contact', 'c1'), ())
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from wfdsl.host.explain_observer import (
    DERIVED_REASONS,
    Check,
    EventMatch,
    ExplainObserver,
    Item,
    Lists,
    Outcome,
    Passed,
    Tree,
    _bare,
    _pattern_text,
    _show,
    _time,
    evaluate,
)
from wfdsl.host.simulate import Seed, Simulation
from wfdsl.plan.model import ProjectPlan, WorkflowPlan
from wfdsl.runtime import history as h
from wfdsl.runtime import timing
from wfdsl.runtime.criteria import describe
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.facts import RecordFacts
from wfdsl.runtime.protocols import Event, utc
from wfdsl.stores.memory import MemoryStore

__all__ = [
    "DERIVED_REASONS",
    "Check",
    "EventMatch",
    "ExplainError",
    "ExplainObserver",
    "ExplainSimulation",
    "Explanation",
    "Lists",
    "Moment",
    "Outcome",
    "Tree",
    "WorkflowReport",
    "explain_record",
    "render_text",
    "resolve_record",
    "why_not",
]


class ExplainError(Exception):
    """A record or workflow that the explanation cannot be about (message has did-you-mean)."""


@attrs.frozen(kw_only=True)
class Moment:
    """What happened in one workflow for the record at one time, for one cause."""

    at: dt.datetime
    cause: str
    items: tuple[Item, ...]
    repeat: int = 1
    last: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "at": self.at.isoformat(),
            "cause": self.cause,
            "items": [i.to_json() for i in self.items],
        }
        if self.repeat > 1 and self.last is not None:
            out["repeat"] = self.repeat
            out["last"] = self.last.isoformat()
        return out


@attrs.frozen(kw_only=True)
class WorkflowReport:
    """Everything about the record in one workflow, and a one-line verdict."""

    name: str
    trigger: str
    enrollments: int
    verdict: str
    reasons: tuple[str, ...]
    moments: tuple[Moment, ...]
    final: tuple[Check | Lists, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.name,
            "trigger": self.trigger,
            "enrollments": self.enrollments,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "moments": [m.to_json() for m in self.moments],
            "final": [c.to_json() for c in self.final],
        }


@attrs.frozen(kw_only=True)
class Explanation:
    """The answer of `wfdsl explain` for one record."""

    record: tuple[str, str]
    start: dt.datetime | None
    end: dt.datetime | None
    events: tuple[tuple[dt.datetime, str], ...]
    workflows: tuple[WorkflowReport, ...]

    def workflow(self, name: str) -> WorkflowReport:
        for report in self.workflows:
            if report.name == name:
                return report
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "record": f"{self.record[0]}:{self.record[1]}",
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "events": [{"at": at.isoformat(), "event": text} for at, text in self.events],
            "workflows": [w.to_json() for w in self.workflows],
        }


class ExplainSimulation:
    """A simulation whose engine an `ExplainObserver` watches, for one record: a
    `Simulation` given the observer, and a start hook that records the criteria at
    the start (`simulation` is that run; `engine`, `trace` and `stats` are its)."""

    def __init__(
        self,
        plans: ProjectPlan,
        seed: Seed,
        target: tuple[str, str],
        *,
        start: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> None:
        self.plans = plans
        store = MemoryStore()
        self.observer = ExplainObserver(target, plans, store)
        self.started: dt.datetime | None = None
        self.simulation = Simulation(
            plans, seed, start=start, until=until, store=store, observer=self.observer, on_start=self._start
        )

    @property
    def engine(self) -> Engine | None:
        return self.simulation.engine

    def run(self, events: Iterable[Event], source: str = "events", where: Mapping[str, int] | None = None) -> None:
        """As `Simulation.run`."""
        self.simulation.run(events, source, where)

    def trace(self) -> list[dict[str, Any]]:
        return self.simulation.trace()

    def stats(self) -> dict[str, dict[str, Any]]:
        return self.simulation.stats()

    def _start(self, engine: Engine) -> None:
        self.observer.now = lambda: engine.now
        self.started = utc(engine.clock.now())
        self._initial(engine)

    def _initial(self, engine: Engine) -> None:
        """Filter triggers that do not enroll existing records: the criteria at the start."""
        obs = self.observer
        for plan in self.plans.workflows:
            if (
                plan.object != obs.target[0]
                or plan.trigger.kind != "filter"
                or plan.trigger.criteria is None
                or plan.settings.enroll_existing
            ):
                continue
            tree = _evaluate_now(engine, obs.target, plan, plan.trigger.criteria)
            if tree is not None:
                obs.add(
                    plan.name,
                    Check(
                        role="trigger_start",
                        label="enrollment criteria at the start (existing records are not enrolled)",
                        result=tree.result,
                        tree=tree,
                    ),
                )


def _evaluate_now(
    engine: Engine, target: tuple[str, str], plan: WorkflowPlan, criteria: Mapping[str, Any]
) -> Tree | None:
    """`criteria` evaluated on the target record as it is now."""
    record = engine.crm.get(*target)
    if record is None:
        return None
    facts = RecordFacts(engine.crm, engine.store, record, now=engine.now, tz=timing.zone(plan.settings.timezone))
    return evaluate(criteria, facts)


def _lists_now(engine: Engine, target: tuple[str, str], plan: WorkflowPlan) -> Lists | None:
    """The workflow's suppression lists, with the target record's membership now."""
    record = engine.crm.get(*target)
    if record is None or not plan.suppress_lists:
        return None
    return Lists(label="suppression lists", lists=tuple((name, name in record.lists) for name in plan.suppress_lists))


# ---------------------------------------------------------------- records and the report


def resolve_record(ref: str, known: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """`c1` or `contact:c1` as a known `(type, id)`; ExplainError with did-you-mean otherwise.

    >>> resolve_record("c1", [("contact", "c1"), ("company", "co1")])
    ('contact', 'c1')
    """
    keys = sorted(set(known))
    if ":" in ref:
        object_type, _, record_id = ref.partition(":")
        if (object_type, record_id) in keys:
            return object_type, record_id
    else:
        found = [k for k in keys if k[1] == ref]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            both = ", ".join(f"{a}:{b}" for a, b in found)
            raise ExplainError(f"record {ref!r} is ambiguous: {both}; write it as type:id")
    names = [f"{a}:{b}" for a, b in keys]
    close = difflib.get_close_matches(ref, names + [b for _, b in keys], n=3, cutoff=0.5)
    hint = ""
    if close:
        hint = "; did you mean " + " or ".join(f"`{c}`" for c in dict.fromkeys(close)) + "?"
    raise ExplainError(f"unknown record {ref!r}: it is neither in the records file nor created by an event{hint}")


def _known_records(seed: Seed, events: Sequence[Event]) -> list[tuple[str, str]]:
    keys = [(r.object, r.id) for r in seed.records]
    keys += [(e.object, e.id) for e in events if e.type == "record.created"]
    return keys


def _trigger_text(plan: WorkflowPlan) -> str:
    trig = plan.trigger
    if trig.kind == "filter" and trig.criteria is not None:
        return f"enroll when {_bare(describe(trig.criteria, True))}"
    if trig.kind == "event":
        text = "enroll on " + " or ".join(
            _pattern_text(
                {
                    "type": s.type,
                    "object": s.object,
                    "property": s.property,
                    "from": s.from_value,
                    "to": s.to_value,
                    "criteria": s.criteria,
                }
            )
            for s in trig.events
            if not s.negated
        )
    elif trig.kind == "schedule" and trig.recurrence is not None:
        rec = trig.recurrence
        text = f"enroll on schedule {rec.kind} at {rec.at}"
    else:
        return "enroll manually"
    if trig.refinement is not None:
        text += f" only if {_bare(describe(trig.refinement, True))}"
    return text


def explain_record(
    plans: ProjectPlan,
    seed: Seed,
    events: Sequence[Event],
    record: str,
    *,
    workflow: str | None = None,
    start: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Explanation:
    """Simulate, watching one record (`c1` or `contact:c1`), and explain every decision
    about it in each workflow of its object type (or only `workflow`)."""
    target = resolve_record(record, _known_records(seed, events))
    names = [p.name for p in plans.workflows]
    if workflow is not None and workflow not in names:
        close = difflib.get_close_matches(workflow, names, n=1, cutoff=0.5)
        hint = f"; did you mean {_show(close[0])}?" if close else ""
        raise ExplainError(f"unknown workflow {_show(workflow)}{hint}")
    chosen = [p for p in plans.workflows if (workflow is None or p.name == workflow) and p.object == target[0]]
    if workflow is not None and not chosen:
        plan = next(p for p in plans.workflows if p.name == workflow)
        raise ExplainError(
            f"workflow {_show(workflow)} enrolls {plan.object} records; {target[0]}:{target[1]} is a {target[0]}"
        )
    sim = ExplainSimulation(plans, seed, target, start=start, until=until)
    sim.run(events)
    engine = sim.engine
    assert engine is not None
    obs = sim.observer
    reports = tuple(_report(plan, obs, engine) for plan in chosen)
    return Explanation(
        record=target, start=sim.started, end=utc(engine.clock.now()), events=tuple(obs.events), workflows=reports
    )


def _report(plan: WorkflowPlan, obs: ExplainObserver, engine: Engine) -> WorkflowReport:
    seen = [s for s in obs.seen if s.workflow == plan.name]
    moments: list[Moment] = []
    for item in seen:
        cause = obs.causes.get(item.cause, "")
        if moments and moments[-1].cause == cause and moments[-1].at == item.at:
            last = moments[-1]
            moments[-1] = attrs.evolve(last, items=(*last.items, item.item))
        else:
            moments.append(Moment(at=item.at, cause=cause, items=(item.item,)))
    merged: list[Moment] = []
    for moment in moments:
        if merged and merged[-1].cause == moment.cause and _body(merged[-1]) == _body(moment):
            prev = merged[-1]
            merged[-1] = attrs.evolve(prev, repeat=prev.repeat + 1, last=moment.at)
        else:
            merged.append(moment)
    outcomes = [s.item for s in seen if isinstance(s.item, Outcome)]
    enrolled = [o for o in outcomes if o.kind == h.ENROLLED]
    reasons = tuple(dict.fromkeys(str(o.reason) for o in outcomes if o.kind == h.NOT_ENROLLED and o.reason))
    final: list[Check | Lists] = []
    if enrolled:
        verdict = _enrolled_verdict(outcomes, len(enrolled))
    else:
        verdict = _never_verdict(plan, outcomes, obs)
        criteria = plan.trigger.criteria if plan.trigger.kind == "filter" else plan.trigger.refinement
        label = "enrollment criteria" if plan.trigger.kind == "filter" else "only if"
        if criteria is not None:
            tree = _evaluate_now(engine, obs.target, plan, criteria)
            if tree is not None:
                final.append(Check(role="final", label=f"{label} on the final state", result=tree.result, tree=tree))
        lists = _lists_now(engine, obs.target, plan)
        if lists is not None:
            final.append(attrs.evolve(lists, label="suppression lists on the final state"))
    return WorkflowReport(
        name=plan.name,
        trigger=_trigger_text(plan),
        enrollments=len(enrolled),
        verdict=verdict,
        reasons=reasons,
        moments=tuple(merged),
        final=tuple(final),
    )


def _enrolled_verdict(outcomes: list[Outcome], count: int) -> str:
    text = f"enrolled {count} time{'' if count == 1 else 's'}"
    ends = []
    for o in outcomes:
        if o.kind == h.COMPLETED:
            ends.append("completed")
        elif o.kind == h.UNENROLLED:
            ends.append(f"unenrolled ({o.reason})")
        elif o.kind == h.GOAL_MET:
            ends.append("goal met")
        elif o.kind == h.CONVERTED:
            ends.append("converted")
    last_enrolled = max(i for i, o in enumerate(outcomes) if o.kind == h.ENROLLED)
    if not any(o.kind in (h.COMPLETED, h.UNENROLLED) for o in outcomes[last_enrolled:]):
        ends.append("still active at the end")
    return text + ("; " + ", ".join(dict.fromkeys(ends)) if ends else "")


def _never_verdict(plan: WorkflowPlan, outcomes: list[Outcome], obs: ExplainObserver) -> str:
    refusals = [o for o in outcomes if o.kind == h.NOT_ENROLLED]
    if refusals:
        counts: dict[str, int] = {}
        for o in refusals:
            counts[str(o.reason)] = counts.get(str(o.reason), 0) + 1
        parts = [f"{r}" + (f" ×{n}" if n > 1 else "") for r, n in counts.items()]
        return "never enrolled: " + ", ".join(parts)
    trig = plan.trigger
    if trig.kind == "manual":
        return (
            "never enrolled: it enrolls only manually (a workflow.enroll event, the API "
            "or `enroll in workflow`), and nothing enrolled this record"
        )
    if trig.kind == "event":
        types = sorted({s.type for s in trig.events if not s.negated})
        had = sorted({text.split(" ", 1)[0] for _, text in obs.events})
        have = ", ".join(had) if had else "no events"
        return f"never enrolled: no trigger event ever arrived ({' or '.join(types)}); events of this record: {have}"
    if trig.kind == "schedule":
        return "never enrolled: no schedule occurrence within the simulation"
    return "never enrolled: no change ever made the record meet the enrollment criteria" + (
        "" if plan.settings.enroll_existing else " (and existing records are not enrolled)"
    )


def _body(moment: Moment) -> str:
    return "\n".join(_item_lines(moment.items, ""))


# ---------------------------------------------------------------- text


def _item_lines(items: Sequence[Item], indent: str) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Check):
            out.append(
                f"{indent}{item.label}: {'met' if item.result else 'not met'}"
                if item.role != "branch"
                else f"{indent}{item.label}: {'taken' if item.result else 'not taken'}"
            )
            out.extend(item.tree.lines(indent + "  "))
        elif isinstance(item, Lists):
            out.append(
                f"{indent}{item.label}: "
                + ", ".join(f"{'✓ in' if member else '✗ not in'} list {_show(name)}" for name, member in item.lists)
            )
        elif isinstance(item, EventMatch):
            out.append(f"{indent}{item.label} {item.pattern}: {'matches' if item.result else 'does not match'}")
            out.extend(item.tree.lines(indent + "  "))
        elif isinstance(item, Passed):
            parts = []
            for check in item.items:
                if isinstance(check, Lists):
                    parts.append("not in a suppression list")
                else:
                    name = {"goal": "goal", "unenroll": "unenroll when", "unmet": "enrollment criteria"}.get(
                        check.role, check.role
                    )
                    parts.append(f"{name} {'✓' if check.result else '✗'}")
            where = f" [{item.step}]" if item.step else ""
            out.append(f"{indent}checks before the action{where}: " + ", ".join(parts))
        else:
            out.append(indent + _outcome_line(item))
    return out


def _outcome_line(item: Outcome) -> str:
    if not item.recorded:
        return f"→ not enrolled ({item.reason}): {item.note}"
    head = item.kind
    detail = dict(item.detail)
    if item.kind == h.ACTION and "action" in detail:
        head = f"action {detail.pop('action')}"
    elif item.reason:
        head = f"{item.kind} ({item.reason})"
    line = f"→ {head}"
    if item.step:
        line += f" [{item.step}]"
    rest = " ".join(f"{k}={_show(v)}" for k, v in detail.items())
    if rest:
        line += f"  {rest}"
    if item.note:
        line += f": {item.note}"
    return line


def why_not(report: Explanation, workflow: str) -> list[str]:
    """The verdict for `workflow` and, when the record was refused, the last moment that
    refused it, as text lines (what `wfdsl test` prints under an unexpected non-enrollment).
    """
    wf = report.workflow(workflow)
    lines = [wf.verdict]
    for moment in reversed(wf.moments):
        if any(isinstance(i, Outcome) and i.kind == h.NOT_ENROLLED for i in moment.items):
            lines.extend(line[2:] for line in _moment_lines([moment]))
            break
    else:
        for check in wf.final:
            lines.extend(_item_lines([check], ""))
    return lines


_TIMES = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?(?:\+00:00|Z)?")
#: Cycles of up to this many moments that repeat (times aside) are folded in the text.
MAX_CYCLE = 30
#: ... when they occur at least this many times in a row.
MIN_REPEATS = 3


def _moment_lines(moments: Sequence[Moment]) -> list[str]:
    """The moments as text; a cycle of moments repeated with only the times changed (a
    daily schedule) is shown once, then folded into one line."""
    keys = [(m.cause, _TIMES.sub("T", _body(m))) for m in moments]
    lines: list[str] = []
    i = 0
    while i < len(moments):
        best: tuple[int, int] | None = None
        for k in range(1, MAX_CYCLE + 1):
            reps = 1
            while keys[i + reps * k : i + (reps + 1) * k] == keys[i : i + k] and i + (reps + 1) * k <= len(moments):
                reps += 1
            if reps >= MIN_REPEATS and (best is None or reps * k > best[0] * best[1]):
                best = (reps, k)
        shown = best[1] if best else 1
        for moment in moments[i : i + shown]:
            when = _time(moment.at)
            if moment.repeat > 1 and moment.last is not None:
                when += f" … {_time(moment.last)} ({moment.repeat} times, the same each time)"
            lines.append(f"  {when}  {moment.cause}")
            lines.extend(_item_lines(moment.items, "    "))
        if best is None:
            i += 1
            continue
        reps, k = best
        last = moments[i + reps * k - 1]
        lines.append(
            f"  … the same {reps - 1} more time{'s' if reps > 2 else ''}, times "
            f"aside, until {_time(last.last or last.at)}"
        )
        i += reps * k
    return lines


def render_text(report: Explanation) -> str:
    """The explanation as the text `wfdsl explain` prints."""
    key = f"{report.record[0]}:{report.record[1]}"
    lines = [f"Record {key}"]
    if report.start is not None and report.end is not None:
        lines.append(f"simulated from {_time(report.start)} to {_time(report.end)}")
    lines.append("")
    if report.events:
        lines.append(f"Events of {key}:")
        lines.extend(f"  {_time(at)}  {text}" for at, text in report.events)
    else:
        lines.append(f"Events of {key}: none")
    if not report.workflows:
        lines += ["", f"No workflow enrolls {report.record[0]} records."]
    for wf in report.workflows:
        lines += ["", f"{wf.name}: {wf.verdict}", f"  trigger: {wf.trigger}"]
        lines.extend(_moment_lines(wf.moments))
        if wf.final:
            lines.append(f"  at the end ({_time(report.end) if report.end else ''})")
            lines.extend(_item_lines(wf.final, "    "))
    return "\n".join(lines) + "\n"

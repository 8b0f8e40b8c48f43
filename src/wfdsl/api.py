"""The library's front door: load, check, compile and simulate in a few calls.

>>> from wfdsl import api
>>> project = api.load_text('''
... workflow "Hello" {
...   object contact
...   enroll when contact.lifecyclestage = "lead"
...   steps {
...     set contact.lifecyclestage = "marketingqualifiedlead"
...   }
... }
... ''')
>>> [d.code for d in api.check(project)]
[]
>>> plans = api.compile(project)
>>> plans.names
('Hello',)

Every name here is also importable from the module that defines it; this
facade only saves finding them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from wfdsl.check import check_project
from wfdsl.compile.compiler import CompileFailed, compile_project
from wfdsl.diagnostics import Diagnostic, Severity
from wfdsl.host.simulate import Simulation, simulate_files
from wfdsl.plan.model import ProjectPlan, plan_to_json, plans_from_json
from wfdsl.schema import Schema
from wfdsl.syntax.project import Project, load_project, project_from_text

__all__ = [
    "CompileFailed",
    "Project",
    "ProjectPlan",
    "Simulation",
    "check",
    "compile",
    "load",
    "load_text",
    "plan_to_json",
    "plans_from_json",
    "simulate",
]


def load(paths: Iterable[str | Path]) -> Project:
    """Read and parse `.wf` files (directories are searched for `*.wf`)."""
    return load_project(paths)


def load_text(text: str, path: str = "<stdin>") -> Project:
    """Parse one file's text as a project."""
    return project_from_text(text, path)


def check(project: Project, schema: Schema | None = None, *, strict: bool = False) -> list[Diagnostic]:
    """Every diagnostic of a project: syntax errors and the checks."""
    return check_project(project, schema, strict=strict)


def compile(project: Project, schema: Schema | None = None) -> ProjectPlan:  # noqa: A001
    """The project's plan; raises `CompileFailed` (with the diagnostics) when it has errors."""
    plans, diagnostics = compile_project(project, schema)
    if plans is None:
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        raise CompileFailed(errors, {r.module.path: r.source for r in project.files})
    return plans


def simulate(
    plans: ProjectPlan,
    records: str | Path,
    events: str | Path,
    *,
    start: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Simulation:
    """Run plans against a records file and a JSON Lines events file on a virtual clock."""
    return simulate_files(plans, records, events, start=start, until=until)

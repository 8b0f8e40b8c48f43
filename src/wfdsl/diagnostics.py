"""Diagnostics: the values every stage reports problems as, and the rule table.

A stage never raises for a problem in the user's input: it collects
`Diagnostic` values and keeps going. `RULES` is the one list of rule names,
their stable codes and default severities; codes never change once released.
"""

from __future__ import annotations

import enum

from wfdsl.frozen import frozen
from wfdsl.spans import Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@frozen
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str


def _rules(*rows: tuple[str, str, str, str]) -> dict[str, Rule]:
    return {
        name: Rule(code=code, name=name, severity=Severity(sev), summary=summary) for code, name, sev, summary in rows
    }


#: Every diagnostic name, in code order. Codes are stable: append, never renumber.
RULES: dict[str, Rule] = _rules(
    ("WF001", "syntax", "error", "The text does not parse."),
    ("WF002", "duplicate-workflow", "error", "Two workflows share a name in a project."),
    ("WF003", "duplicate-clause", "error", "A clause appears twice in one workflow."),
    ("WF004", "missing-object", "error", "A workflow has no `object` clause."),
    ("WF005", "unknown-object", "error", "An object type is not known."),
    ("WF006", "unknown-event", "error", "An event name is not in the catalog."),
    ("WF007", "event-object-mismatch", "error", "An event is not available for the workflow's object type."),
    ("WF008", "unknown-event-attribute", "error", "An attribute is not known for that event."),
    ("WF009", "multiple-triggers", "error", "A workflow has more than one trigger kind."),
    ("WF010", "schedule-with-event", "error", "A schedule trigger and an event trigger in one workflow."),
    ("WF011", "negated-event-trigger", "error", "The absence of an event cannot trigger enrollment."),
    ("WF012", "reenroll-mismatch", "error", "Re-enrollment does not fit the trigger."),
    ("WF013", "goal-not-contact", "error", "A goal in a workflow whose object is not contact."),
    ("WF014", "anchor-delay-first", "error", "A date-centred workflow must start with a date-centred delay."),
    ("WF015", "anchor-without-date", "error", "`anchor` used in a workflow without an `anchor` clause."),
    ("WF016", "date-property-type", "error", "An anchor on a property that is not a date."),
    ("WF017", "unknown-workflow", "error", "A referenced workflow does not exist in the project."),
    ("WF018", "unknown-property", "error", "A property is not in the schema."),
    ("WF019", "type-mismatch", "error", "A value of the wrong type for the property or operator."),
    ("WF020", "invalid-option", "error", "An enumeration value is not among its options."),
    ("WF021", "invalid-value", "error", "A bad duration, time, date, timezone or percentage."),
    ("WF022", "unknown-variable", "error", "A `{{ … }}` token that cannot be resolved."),
    ("WF023", "placeholder-action", "warning", "A placeholder must be filled before the workflow is turned on."),
    ("WF024", "split-percentages", "error", "Random split shares do not add up to 100%."),
    ("WF025", "unreachable-step", "warning", "Steps after `end` or an unconditional `go to`."),
    ("WF026", "unknown-label", "error", "A `go to` target does not exist."),
    ("WF027", "duplicate-label", "error", "A label is used twice."),
    ("WF028", "enroll-existing-with-event", "warning", "`enroll existing records` with an event or manual trigger."),
    ("WF029", "goal-without-marketing-email", "warning", "A goal in a workflow that sends no marketing email."),
    ("WF030", "goal-needs-marketing-email", "warning", "A goal reference that can never fire."),
    ("WF031", "email-open-criteria", "info", "A goal or trigger on `email.opened`."),
    ("WF032", "workflow-cycle", "warning", "Workflows that enroll each other in a loop."),
    ("WF033", "empty-steps", "warning", "A workflow with no steps."),
    ("WF034", "empty-branch", "warning", "A branch with nothing to do."),
    ("WF035", "unused-suppression", "info", "A suppression comment that silences nothing."),
    ("WF036", "nesting-too-deep", "error", "Blocks or criteria nested deeper than the documented limit."),
    ("WF037", "received-without-wait", "error", "`received` outside the `if` right after a `wait for`."),
    ("WF038", "missing-steps", "error", "A workflow has no `steps` clause."),
)


@frozen
class Diagnostic:
    """One problem found in the input.

    >>> from wfdsl.spans import Span
    >>> d = Diagnostic.of("syntax", "found `}`", Span(file="a.wf", line=2, col=1, end_line=2, end_col=2))
    >>> (d.code, d.severity.value)
    ('WF001', 'error')
    """

    code: str
    name: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    @classmethod
    def of(
        cls,
        name: str,
        message: str,
        span: Span,
        *,
        hint: str | None = None,
        severity: Severity | None = None,
    ) -> Diagnostic:
        rule = RULES[name]
        return cls(
            code=rule.code,
            name=name,
            severity=severity or rule.severity,
            message=message,
            span=span,
            hint=hint,
        )

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.col, self.code)


class WfdslError(Exception):
    """Raised at the API boundary when a caller asks for a result that has errors."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        text = f"{first.span.file}:{first.span.line}:{first.span.col}: {first.message}" if first else "error"
        super().__init__(text)

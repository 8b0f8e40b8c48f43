"""Property checks: property references, values and `{{ … }}` tokens in, schema diagnostics out."""

from __future__ import annotations

import re
from collections.abc import Iterator

from wfdsl.catalog import STANDARD_OBJECT_TYPES
from wfdsl.check.context import Context, article, did_you_mean, one_of
from wfdsl.diagnostics import Diagnostic, Severity
from wfdsl.schema import Property
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n

# ---------------------------------------------------------------- unknown-property


def unknown_property(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`unknown-property` (and `unknown-object` for the type part of a reference)."""
    for node in ctx.of_type(wf, (n.PropertyRef,), record=True):
        yield from _check_ref(ctx, wf, node)
    for step in ctx.steps(wf):
        if isinstance(step, n.CreateRecord) and ctx.schema.has_object(step.object_type.value):
            target = step.object_type.value
            for field in step.fields:
                if ctx.schema.property(target, field.name.value) is None:
                    yield _unknown(ctx, target, field.name.value, field.name.span, f"`{field.name.value}`")


def _check_ref(ctx: Context, wf: n.Workflow, ref: n.PropertyRef) -> Iterator[Diagnostic]:
    parts = ref.parts
    if len(parts) == 1:
        owner = wf.object_type or "contact"
        yield Diagnostic.of(
            "unknown-property",
            f"found `{parts[0]}`, a property name without its object type; expected "
            f"`<object>.{parts[0]}`, e.g. `{owner}.{parts[0]}`",
            ref.span,
            hint=f"write `{owner}.{parts[0]}`",
            severity=Severity.ERROR,
        )
        return
    if not ctx.schema.has_object(parts[0]):
        yield Diagnostic.of(
            "unknown-object",
            f"found the object type `{parts[0]}` in `{ref.dotted}`; expected a property reference "
            "qualified by a known object type, such as `contact.email`",
            ref.span,
            hint=did_you_mean(parts[0], ctx.schema.object_types)
            or "declare custom object types under [schema.custom.<name>] in wfdsl.toml",
        )
        return
    if len(parts) > 2:
        yield Diagnostic.of(
            "unknown-property",
            f"found `{ref.dotted}`; expected `<object>.<property>` with one dot, such as `{parts[0]}.{parts[1]}`",
            ref.span,
            severity=Severity.ERROR,
        )
        return
    if ctx.schema.property(parts[0], parts[1]) is None:
        yield _unknown(ctx, parts[0], parts[1], ref.span, f"`{ref.dotted}`")


def _unknown(ctx: Context, owner: str, name: str, span: Span, shown: str) -> Diagnostic:
    schema = ctx.schema
    where = "the built-in schema" if schema.is_builtin else f"the project schema ({schema.source})"
    guess = did_you_mean(name, schema.properties(owner))
    if guess is not None:
        hint = guess.replace("`", "`" + owner + ".", 1) if shown.startswith(f"`{owner}.") else guess
    elif schema.is_builtin:
        hint = f'for a custom property, declare it in wfdsl.toml: [schema.{owner}] {name} = "{_guess_type(name)}"'
    else:
        hint = f"declare it under [schema.{owner}] in {schema.source}, or fix the name"
    return Diagnostic.of(
        "unknown-property",
        f"found {shown}, which is not {article(owner)} property in {where}; expected a property the schema declares",
        span,
        hint=hint,
        severity=Severity.WARNING if schema.is_builtin else Severity.ERROR,
    )


def _guess_type(name: str) -> str:
    lowered = name.lower()
    if lowered.endswith(("_date", "date")):
        return "date"
    if lowered.endswith(("_at", "_time", "timestamp")):
        return "datetime"
    if lowered.endswith(("_count", "_score", "amount", "_number")):
        return "number"
    return "string"


# ---------------------------------------------------------------- type-mismatch / invalid-option

_KIND = {
    n.StringLit: "the string",
    n.NumberLit: "the number",
    n.BoolLit: "the boolean",
    n.DateLit: "the date",
    n.DateTimeLit: "the date-time",
    n.TimeLit: "the time of day",
    n.PercentLit: "the percentage",
    n.ListLit: "a list",
}
_EXPECTED = {
    "string": 'a string such as "text"',
    "number": "a number such as 42",
    "bool": "true or false",
    "date": "a date such as 2026-12-24",
    "datetime": "a date or date-time such as 2026-12-24T09:00",
    "enumeration": "one of its options as a string",
}
_ORDERED = ("number", "date", "datetime")
_DATES = ("date", "datetime")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$")


def _source(value: n.Node) -> str:
    if isinstance(value, n.StringLit):
        return '"' + value.value + '"'
    if isinstance(value, n.PercentLit):
        return value.text + "%"
    if isinstance(value, n.BoolLit):
        return "true" if value.value else "false"
    if isinstance(value, n.ListLit):
        return "[…]"
    return str(getattr(value, "text", "?"))


def _accepts(ptype: str, value: n.Node, *, templated: bool) -> bool:
    if templated and isinstance(value, n.StringLit) and value.variables:
        return True
    if ptype in ("string", "enumeration"):
        return isinstance(value, n.StringLit)
    if ptype == "number":
        return isinstance(value, n.NumberLit)
    if ptype == "bool":
        return isinstance(value, n.BoolLit)
    if ptype == "date":
        return isinstance(value, n.DateLit)
    if ptype == "datetime":
        return isinstance(value, (n.DateLit, n.DateTimeLit))
    return True


def _mismatch_hint(ptype: str, value: n.Node) -> str | None:
    if isinstance(value, n.StringLit):
        if ptype == "number" and _NUMBER.match(value.value.strip()):
            return f"write the number without quotes: {value.value.strip()}"
        if ptype == "bool" and value.value.strip().lower() in ("true", "false"):
            return f"write {value.value.strip().lower()} without quotes"
        if ptype in _DATES and _DATE_TEXT.match(value.value.strip()):
            return f"write the date without quotes: {value.value.strip()}"
    if ptype in ("string", "enumeration") and isinstance(value, (n.NumberLit, n.BoolLit, n.DateLit)):
        return f'quote it: "{_source(value)}"'
    if ptype == "date" and isinstance(value, n.DateTimeLit):
        return f"drop the time of day: {value.text.split('T')[0]}"
    return None


def _check_value(
    prop: n.PropertyRef | n.Name,
    dotted: str,
    spec: Property,
    value: n.Node,
    *,
    templated: bool = False,
) -> Iterator[Diagnostic]:
    if isinstance(value, n.ListLit):
        yield Diagnostic.of(
            "type-mismatch",
            f"found a list for `{dotted}`; expected a single value ({_EXPECTED[spec.type]})",
            value.span,
            hint='test several values with `in ["a", "b"]`',
        )
        return
    if not _accepts(spec.type, value, templated=templated):
        yield Diagnostic.of(
            "type-mismatch",
            f"found {_KIND.get(type(value), 'a value')} `{_source(value)}` for `{dotted}`, "
            f"{article(spec.type)} property; expected {_EXPECTED[spec.type]}",
            value.span,
            hint=_mismatch_hint(spec.type, value),
        )
        return
    if spec.type == "enumeration" and isinstance(value, n.StringLit) and not value.variables:
        if value.value not in spec.options:
            yield Diagnostic.of(
                "invalid-option",
                f'found "{value.value}" for `{dotted}`; expected one of its options: {_options(spec.options)}',
                value.span,
                hint=did_you_mean(value.value, spec.options, quote='"')
                or "use an option's internal value, not its label",
            )


def _options(options: tuple[str, ...]) -> str:
    return one_of([f'"{o}"' for o in options], limit=10).replace("`", "")


def _operator(dotted: str, spec: Property, op: str, span: Span, allowed: tuple[str, ...], hint: str) -> Diagnostic:
    expected = " or ".join(allowed) if len(allowed) <= 2 else ", ".join(allowed[:-1]) + " or " + allowed[-1]
    return Diagnostic.of(
        "type-mismatch",
        f"found `{op}` on `{dotted}`, {article(spec.type)} property; expected a {expected} property for `{op}`",
        span,
        hint=hint,
    )


def type_mismatch(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`type-mismatch` and `invalid-option`: values against property types and options."""
    for node in ctx.of_type(wf, _TYPED, record=True):
        yield from _typed(ctx, node)


#: The node classes `_typed` has something to say about.
_TYPED: tuple[type[n.Node], ...] = (
    n.CreateRecord,
    n.DelayUntilDate,
    n.CopyProperty,
    n.Compare,
    n.Between,
    n.InValues,
    n.HistoryMatch,
    n.TextMatch,
    n.DateCompare,
    n.RelativeDate,
    n.PropertyChange,
    n.SetProperty,
    n.Increment,
    n.BranchOn,
)


def _typed(ctx: Context, node: n.Node) -> Iterator[Diagnostic]:  # noqa: C901 - one case per node type
    prop = getattr(node, "prop", None)
    spec = ctx.resolve(prop) if isinstance(prop, n.PropertyRef) else None
    if isinstance(node, n.CreateRecord):
        for field in node.fields:
            fspec = ctx.schema.property(node.object_type.value, field.name.value)
            if fspec is not None:
                dotted = f"{node.object_type.value}.{field.name.value}"
                yield from _check_value(field.name, dotted, fspec, field.value, templated=True)
        return
    if isinstance(node, n.DelayUntilDate) and isinstance(node.base, n.PropertyRef):
        bspec = ctx.resolve(node.base)
        if bspec is not None and bspec.type not in _DATES:
            yield Diagnostic.of(
                "type-mismatch",
                f"found `delay until {node.base.dotted}`, {article(bspec.type)} property; "
                "expected a date "
                "or datetime property",
                node.base.span,
                hint="create a custom date property and delay until it",
            )
        return
    if isinstance(node, n.CopyProperty):
        yield from _copy(ctx, node)
        return
    if spec is None or not isinstance(prop, n.PropertyRef):
        return
    dotted = prop.dotted
    if isinstance(node, n.Compare):
        if node.op in ("<", "<=", ">", ">=") and spec.type not in _ORDERED:
            yield _operator(dotted, spec, node.op, node.span, _ORDERED, _order_hint(spec))
        else:
            yield from _check_value(prop, dotted, spec, node.value)
    elif isinstance(node, n.Between):
        if spec.type not in _ORDERED:
            yield _operator(dotted, spec, "between", node.span, _ORDERED, _order_hint(spec))
        else:
            yield from _check_value(prop, dotted, spec, node.low)
            yield from _check_value(prop, dotted, spec, node.high)
    elif isinstance(node, n.InValues):
        for item in node.values.items:
            yield from _check_value(prop, dotted, spec, item)
    elif isinstance(node, n.HistoryMatch):
        yield from _check_value(prop, dotted, spec, node.value)
    elif isinstance(node, n.TextMatch):
        if spec.type != "string":
            op = node.op.replace("_", " ")
            hint = (
                "compare with `=` or `in [...]`"
                if spec.type == "enumeration"
                else "text operators apply to string properties"
            )
            yield _operator(dotted, spec, op, node.span, ("string",), hint)
    elif isinstance(node, n.DateCompare):
        if spec.type not in _DATES:
            yield _operator(dotted, spec, node.op, node.span, _DATES, _order_hint(spec))
        elif not isinstance(node.value, (n.DateLit, n.DateTimeLit)):
            yield Diagnostic.of(
                "type-mismatch",
                f"found {_KIND.get(type(node.value), 'a value')} `{_source(node.value)}` after "
                f"`{node.op}`; expected a date such as 2026-12-24",
                node.value.span,
                hint=_mismatch_hint("date", node.value),
            )
    elif isinstance(node, n.RelativeDate):
        if spec.type not in _DATES:
            op = {
                "within_last": "within last",
                "within_next": "within next",
                "more_than_ago": "more than … ago",
            }[node.op]
            yield _operator(dotted, spec, op, node.span, _DATES, _order_hint(spec))
    elif isinstance(node, n.PropertyChange):
        for value in (node.from_value, node.to_value):
            if value is not None:
                yield from _check_value(prop, dotted, spec, value)
    elif isinstance(node, n.SetProperty):
        yield from _check_value(prop, dotted, spec, node.value, templated=True)
    elif isinstance(node, n.Increment):
        if spec.type != "number":
            yield _operator(dotted, spec, "increment", node.span, ("number",), "set it with `set …` instead")
    elif isinstance(node, n.BranchOn):
        for case in node.cases:
            yield from _check_value(prop, dotted, spec, case.value)


def _copy(ctx: Context, node: n.CopyProperty) -> Iterator[Diagnostic]:
    """A copy into a number, bool or date property needs a value of that kind."""
    source, target = ctx.resolve(node.source), ctx.resolve(node.target)
    if source is None or target is None or target.type in ("string", "enumeration"):
        return
    if source.type == target.type or {source.type, target.type} <= set(_DATES):
        return
    yield Diagnostic.of(
        "type-mismatch",
        f"found `copy {node.source.dotted} to {node.target.dotted}`: {article(source.type)} "
        "property "
        f"copied into {article(target.type)} property; expected {article(target.type)} source",
        node.span,
        hint="copy into a property of the same type, or into a text property",
    )


def _order_hint(spec: Property) -> str:
    if spec.type == "string":
        return "for text use `=`, `contains`, `starts with` or `ends with`"
    if spec.type == "enumeration":
        return "for options use `=` or `in [...]`"
    if spec.type == "bool":
        return "for a boolean use `= true` or `= false`"
    return "compare numbers with `<`/`>`, dates with `before`/`after`"


# ---------------------------------------------------------------- date-property-type


def date_property_type(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`date-property-type`: `anchor` on a property whose type is not date or datetime."""
    for clause in wf.clauses:
        if not isinstance(clause, n.AnchorClause) or not isinstance(clause.target, n.PropertyRef):
            continue
        spec = ctx.resolve(clause.target)
        if spec is None or spec.type in _DATES:
            continue
        dotted = clause.target.dotted
        yield Diagnostic.of(
            "date-property-type",
            f"found `anchor {dotted}`, {article(spec.type)} property; expected a date or datetime "
            "property to anchor on",
            clause.target.span,
            hint=f"create a custom date property (e.g. [schema.{clause.target.parts[0]}] "
            f'{clause.target.parts[1]}_date = "date"), copy the values into it, and anchor on it',
        )


# ---------------------------------------------------------------- unknown-variable


def unknown_variable(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`unknown-variable`: a `{{ … }}` token that is not `object.property` of a reachable record.

    Always an error, also for an unknown property with the built-in
    schema (where `unknown-property` is a warning): a token that cannot be
    filled in would send the text with a hole in it.
    """
    own = wf.object_type
    reachable = tuple(dict.fromkeys([*([own] if own and ctx.schema.has_object(own) else []), *STANDARD_OBJECT_TYPES]))
    for node in ctx.of_type(wf, (n.StringLit,)):
        for var in node.variables:
            shown = "{{ " + ".".join(var.path) + " }}"
            path = var.path
            if len(path) != 2 or not all(path):
                yield Diagnostic.of(
                    "unknown-variable",
                    f"found `{shown}`; expected `{{{{ <object>.<property> }}}}`, such as "
                    f"`{{{{ {own or 'contact'}.firstname }}}}`",
                    var.span,
                )
                continue
            owner, name = path
            if owner not in reachable:
                guess = did_you_mean(owner, reachable)
                yield Diagnostic.of(
                    "unknown-variable",
                    f"found `{shown}`: `{owner}` is not the workflow's object type or a standard "
                    "object type associated with the record",
                    var.span,
                    hint=guess or f"use `{{{{ {own or 'contact'}.<property> }}}}`",
                )
                continue
            if ctx.schema.property(owner, name) is None:
                schema = ctx.schema
                where = "the built-in schema" if schema.is_builtin else f"the project schema ({schema.source})"
                guess = did_you_mean(name, schema.properties(owner))
                yield Diagnostic.of(
                    "unknown-variable",
                    f"found `{shown}`, but `{name}` is not {article(owner)} property in "
                    f"{where}; the "
                    "token "
                    "cannot be filled in",
                    var.span,
                    hint=(
                        guess.replace("`", "`" + owner + ".", 1)
                        if guess
                        else f"declare it under [schema.{owner}] in a project schema, or fix the name"
                    ),
                )

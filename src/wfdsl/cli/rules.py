"""`wfdsl rules`: the rule table in, every check (or one check's page) as text or JSON out."""

from __future__ import annotations

import json

import click

from wfdsl.check import resolve_names
from wfdsl.cli.common import fail
from wfdsl.rules import all_rules, rule_doc, rule_info, rules_table


@click.command("rules")
@click.argument("name", required=False, metavar="[NAME]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="json: an array of {code, name, severity, summary, url, doc} (one object with NAME).",
)
def rules(name: str | None, fmt: str) -> None:
    """List every check with its code, default severity and one-line summary.

    With NAME (a check's name or code, e.g. unknown-event or WF006), print
    that check's documentation: what it finds, an example and the fix.
    """
    if name is None:
        if fmt == "json":
            click.echo(json.dumps(all_rules(doc=True), indent=2, ensure_ascii=False))
        else:
            click.echo(rules_table(), nl=False)
        return
    try:
        names = resolve_names([name])
    except ValueError as error:
        fail(str(error))
    if len(names) != 1:
        fail(f"expected one check, got {len(names)}: {name!r}")
    info = rule_info(names[0], doc=True)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    click.echo(
        f"{info['name']} ({info['code']}) · {info['severity']}\n\n{info['summary']}\n\n{rule_doc(names[0])}", nl=False
    )

"""Colour on the command line: a `--color` choice in, click's `Context.color` and styles out.

Text is always styled with `click.style`; `click.echo` then drops the
styles where colour is off: with `never`, with `auto` when `NO_COLOR` is set
(https://no-color.org) or the stream is not a terminal. `always` keeps them
even in a pipe (CI logs that understand ANSI). Only click is imported here,
so the group can offer the option without loading any command.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

CHOICES = ("auto", "always", "never")

#: Styles by the roles `wfdsl.tools.render` paints.
STYLES: dict[str, dict[str, Any]] = {
    "location": {"bold": True},
    "error": {"fg": "red"},
    "warning": {"fg": "yellow"},
    "info": {"fg": "cyan"},
}

F = TypeVar("F", bound=Callable[..., Any])


def color_setting(choice: str) -> bool | None:
    """click's `Context.color` for a `--color` choice: True, False, or None (click
    decides per stream, by whether it is a terminal)."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return None


def style(text: str, role: str) -> str:
    """`text` styled for its role (see `wfdsl.tools.render.Style`)."""
    return click.style(text, **STYLES[role])


def _apply(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.color = color_setting(value)
    return value


def color_option(*, default: str | None) -> Callable[[F], F]:
    """The `--color auto|always|never` option; a command's own overrides the group's."""
    where = "" if default else " Default: as given to `wfdsl --color`, else auto."
    return click.option(
        "--color",
        type=click.Choice(CHOICES),
        default=default,
        show_default=default is not None,
        expose_value=False,
        is_eager=True,
        callback=_apply,
        help=f"Colour the text output: auto colours a terminal unless NO_COLOR is set.{where}",
    )

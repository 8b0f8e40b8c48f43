"""`wfdsl lsp`: the language server for editors, over stdin and stdout."""

from __future__ import annotations

import click

from wfdsl.cli.common import fail
from wfdsl.tools.lsp import INSTALL_HINT


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk over stdin and stdout (the default and only transport).")
def lsp(stdio: bool) -> None:
    """Run the wfdsl language server (diagnostics, hover, completion, go to
    definition, symbols, formatting, quick fixes) for an editor.

    The editor starts it and talks to it over stdin and stdout; see
    docs/editors.md. Needs the `lsp` extra: pip install 'wfdsl-crm[lsp]'.

    Exit status: 0 when the editor ends the session, 2 when the extra is missing.
    """
    try:
        from wfdsl.tools.lsp.server import serve
    except ImportError as error:
        fail(f"the language server needs: {INSTALL_HINT} ({error.name or error} is not installed)")
    serve()

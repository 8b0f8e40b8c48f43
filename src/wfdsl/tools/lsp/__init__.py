"""Editor support: the `wfdsl lsp` language server.

`analysis` answers an editor's questions (diagnostics, hover, completion,
definitions, symbols, formatting, fixes) from documents and project files,
with no protocol types; `server` speaks the Language Server Protocol over
stdio with pygls (the optional `wfdsl-crm[lsp]` extra) and imports it only when
the server starts.
"""

from __future__ import annotations

from wfdsl import install_command

#: The command that installs what the language server needs.
INSTALL_HINT = install_command("lsp")

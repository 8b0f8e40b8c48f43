"""Syntax: `.wf` text in, an AST (`nodes`) and syntax diagnostics out.

`parser` parses: with `lalr` (an LALR driver and contextual lexer over the
grammar's table in `tables`, written from Lark's by `tablegen`) and, for text
that does not parse, again with Lark's parser, which `grammar` finds the
grammar for and builds (and keeps, across processes); `reductions` and `build`
make the AST as either parser reduces, from `tokens`; `errors` words syntax
errors; `recovery` parses workflow blocks one by one after an error; `screen`
checks the text against the limits; `nodes` (with `values` and `criteria`)
holds the AST classes; `project` finds, reads and parses a project's files.
"""

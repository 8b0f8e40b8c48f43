"""Syntax: `.wf` text in, an AST (`nodes`) and syntax diagnostics out.

`parser` parses; `grammar` finds the grammar and builds (and keeps, across
processes) the Lark parser; `build` makes the AST as the parser reduces;
`errors` words syntax errors; `recovery` parses workflow blocks one by one
after an error; `screen` checks the text against the limits; `nodes` (with
`values` and `criteria`) holds the AST classes; `project` finds, reads and
parses a project's files.
"""

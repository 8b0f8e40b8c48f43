"""Syntax: `.wf` text in, an AST (`nodes`) and syntax diagnostics out.

`parser` is the only module that imports Lark; `nodes` holds the AST classes;
`project` finds, reads and parses a project's files.
"""

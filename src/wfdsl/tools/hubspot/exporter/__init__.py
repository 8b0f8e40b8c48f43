"""The export of workflows to HubSpot flow JSON, one family of the JSON per module,
each a layer over the one before: `writer` (state, problems, values),
`criteria` (filter branches), `triggers` (enrollment and settings), `actions`
(single actions), `graph` (the action graph). `export.export_workflow` is the
entry point.
"""

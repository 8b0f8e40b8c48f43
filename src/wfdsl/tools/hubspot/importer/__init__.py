"""The import of HubSpot flow JSON, one family of the JSON per module, each a layer
over the one before: `reader` (typed access with JSON paths), `criteria`
(filters), `triggers` (enrollment and settings), `actions` (single actions),
`graph` (the action graph as a step tree). `flows.import_flow` is the entry point.
"""

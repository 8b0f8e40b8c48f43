"""HubSpot flows: Automation API v4 flow JSON in, `.wf` text out (`flows`), and back (`export`).

`ids` holds the fixed HubSpot identifiers both directions share, `lockfile`
the portal-specific ones (`hubspot.lock.toml`). Nothing here talks to a
portal: these modules work on files only.
"""

from __future__ import annotations

from wfdsl.tools.hubspot.export import ExportResult, export_project, export_workflow, flow_json
from wfdsl.tools.hubspot.flows import FlowImport, import_flow, import_flow_file
from wfdsl.tools.hubspot.lockfile import LOCK_NAME, LockFile, find_lock
from wfdsl.tools.hubspot.problems import FlowError, Problem

__all__ = [
    "LOCK_NAME",
    "ExportResult",
    "FlowError",
    "FlowImport",
    "LockFile",
    "Problem",
    "export_project",
    "export_workflow",
    "find_lock",
    "flow_json",
    "import_flow",
    "import_flow_file",
]

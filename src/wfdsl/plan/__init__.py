"""Plans: the compiled form of workflows that the runtime executes, and its JSON encoding.

`model` holds the plan's classes; this package re-exports the names most
programs need.
"""

from __future__ import annotations

from wfdsl.plan.model import (
    PlanError,
    ProjectPlan,
    Step,
    WorkflowPlan,
    plan_to_data,
    plan_to_json,
    plans_from_data,
    plans_from_json,
)

__all__ = [
    "PlanError",
    "ProjectPlan",
    "Step",
    "WorkflowPlan",
    "plan_to_data",
    "plan_to_json",
    "plans_from_data",
    "plans_from_json",
]

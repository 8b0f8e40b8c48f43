"""Comparing flow JSON up to key order and generated ids (the round-trip tests)."""

from __future__ import annotations

from typing import Any

#: Keys that are portal state, not part of what a round trip keeps.
STATE_KEYS = (
    "id",
    "uuid",
    "revisionId",
    "createdAt",
    "updatedAt",
    "crmObjectCreationStatus",
    "nextAvailableActionId",
    "isEnabled",
    "canEnrollFromSalesforce",
)


def _targets(action: dict[str, Any]) -> list[str]:
    """The action ids an action leads to, in order (connection, arms, default)."""
    out: list[dict[str, Any] | None] = [action.get("connection")]
    out += [arm.get("connection") for arm in action.get("listBranches", [])]
    out += [arm.get("connection") for arm in action.get("staticBranches", [])]
    out += list(action.get("testBranches", []))
    out.append(action.get("defaultBranch"))
    return [c["nextActionId"] for c in out if c]


def canonical(flow: dict[str, Any]) -> dict[str, Any]:
    """The flow with portal state dropped and action ids renumbered in walk order from the start."""
    actions = {a["actionId"]: a for a in flow.get("actions", [])}
    order: list[str] = []
    stack = [flow["startActionId"]] if flow.get("startActionId") else []
    while stack:
        ident = stack.pop()
        if ident in order or ident not in actions:
            continue
        order.append(ident)
        stack.extend(reversed(_targets(actions[ident])))
    order += [i for i in actions if i not in order]
    rename = {old: str(i + 1) for i, old in enumerate(order)}

    def fix(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: fix(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        if key in ("actionId", "nextActionId", "startActionId") and isinstance(value, str):
            return rename.get(value, value)
        return value

    out = {k: fix(v, k) for k, v in flow.items() if k not in STATE_KEYS}
    out["actions"] = sorted(out.get("actions", []), key=lambda a: int(a["actionId"]))
    return out

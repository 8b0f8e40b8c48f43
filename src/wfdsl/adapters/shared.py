"""What every CRM adapter does alike: an action's arguments as recorded, the
`email.sent` event a sent email produces, and the owner property.

>>> public_args({"email": "Hi", "_enrollment": "e1"})
{'email': 'Hi'}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from wfdsl.runtime.protocols import Action, Event

#: The property `assign owner` / `rotate owner` set (HubSpot's owner property).
OWNER_PROPERTY = "hubspot_owner_id"


def public_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """Logged arguments without the `_enrollment` and `_workflow` kept beside them."""
    return {k: v for k, v in args.items() if not k.startswith("_")}


def logged_args(action: Action) -> dict[str, Any]:
    """An action's arguments as a log of performed actions keeps them: the arguments,
    then `_enrollment` and `_workflow` (the action's `enrollment` and `workflow`,
    when it has them), where `wfdsl outbox` reads the workflow back.

    >>> import datetime as dt
    >>> logged_args(Action(kind="send_email", object="contact", id="c1", args={"email": "Hi"},
    ...                    at=dt.datetime(2026, 1, 1), enrollment="e1", workflow="Welcome"))
    {'email': 'Hi', '_enrollment': 'e1', '_workflow': 'Welcome'}
    """
    out = dict(action.args)
    if action.enrollment is not None:
        out["_enrollment"] = action.enrollment
    if action.workflow is not None:
        out["_workflow"] = action.workflow
    return out


def email_sent(action: Action, at: dt.datetime, args: Mapping[str, Any], cause: Any) -> Event:
    """The `email.sent` event of a `send_email` action performed at `at`."""
    return Event(
        type="email.sent", object=action.object, id=action.id, at=at, data={"email": args.get("email")}, cause=cause
    )

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
    """An action's arguments without the engine's own (`_enrollment`, `_workflow`…)."""
    return {k: v for k, v in args.items() if not k.startswith("_")}


def email_sent(action: Action, at: dt.datetime, args: Mapping[str, Any], cause: Any) -> Event:
    """The `email.sent` event of a `send_email` action performed at `at`."""
    return Event(
        type="email.sent", object=action.object, id=action.id, at=at, data={"email": args.get("email")}, cause=cause
    )

"""Fixed HubSpot identifiers both directions share: object types, action types, events, associations.

These are the same in every portal (HubSpot's documented ids). Ids that
differ per portal (lists, emails, owners, forms…) live in `hubspot.lock.toml`.
"""

from __future__ import annotations

import re

#: wfdsl object type -> HubSpot objectTypeId.
#: Custom properties this bridge writes and reads back (text the flow JSON has no field for).
TIMEZONE_PROPERTY = "wfdsl.timezone"
LABELS_PROPERTY = "wfdsl.labels"

OBJECT_TYPE_IDS: dict[str, str] = {
    "contact": "0-1",
    "company": "0-2",
    "deal": "0-3",
    "ticket": "0-5",
}
OBJECT_TYPES: dict[str, str] = {v: k for k, v in OBJECT_TYPE_IDS.items()}

#: Built-in action types (`actionTypeId`) this bridge converts.
DELAY = "0-1"
TASK = "0-3"
SEND_EMAIL = "0-4"
SET_PROPERTY = "0-5"
NOTIFY = "0-8"
ROTATE_OWNER = "0-11"
LIST = "0-13"
CREATE_RECORD = "0-14"
DELAY_UNTIL_DATE = "0-35"
ENROLL_IN_WORKFLOW = "0-15"
WAIT_FOR_EVENT = "0-29"

#: Names of the action types for messages (refused ones included, so errors can say what they are).
ACTION_NAMES: dict[str, str] = {
    DELAY: "delay for a set amount of time",
    TASK: "create task",
    SEND_EMAIL: "send marketing email",
    SET_PROPERTY: "set property value",
    NOTIFY: "send internal email notification",
    "0-9": "send in-app notification",
    ROTATE_OWNER: "rotate record to owner",
    LIST: "add to / remove from static list",
    CREATE_RECORD: "create record",
    ENROLL_IN_WORKFLOW: "enroll in another workflow",
    "0-23": "send email to specific recipients",
    "0-25": "copy owner from associated record",
    "0-29": "wait for event",
    "0-31": "set marketing contact status",
    DELAY_UNTIL_DATE: "delay until a date",
}

#: `time_unit` of delays <-> wfdsl duration units.
TIME_UNITS: dict[str, str] = {"MINUTES": "minute", "HOURS": "hour", "DAYS": "day", "WEEKS": "week"}
UNIT_NAMES: dict[str, str] = {v: k for k, v in TIME_UNITS.items()}

#: wfdsl event -> HubSpot `eventTypeId` (a lock file's `[event_types]` may add or override).
EVENT_TYPE_IDS: dict[str, str] = {
    "form.submitted": "4-1639801",
    "form.viewed": "4-1639797",
    "form.interacted": "4-1639799",
    "page.visited": "4-96000",
    "email.clicked": "4-666288",
    "email.opened": "4-666440",
    "email.delivered": "4-665536",
    "email.replied": "4-665538",
    "email.bounced": "4-666439",
    "meeting.booked": "4-1720599",
    "ad.interacted": "4-1553675",
    "call.started": "4-1733817",
    "call.ended": "4-1741072",
}

#: The event of a property change (`contact.city changed to "Dublin"`): `hs_name` is the
#: property, `hs_value` the new value.
PROPERTY_CHANGE_EVENT = "4-655002"

#: Event attribute -> the event property HubSpot filters on, per event family.
EVENT_ATTRIBUTES: dict[str, str] = {
    "form": "hs_form_id",
    "url": "hs_url",
    "url.path": "hs_url_path",
    "url.domain": "hs_url_domain",
    "email": "hs_email_campaign_id",
    "url.original": "hs_url",
    "meeting": "hs_meeting_id",
    "outcome": "hs_outcome",
    "network": "hs_network",
}
EVENT_PROPERTIES: dict[str, str] = {v: k for k, v in EVENT_ATTRIBUTES.items() if k != "url.original"}

#: (from, to) object types -> HubSpot-defined association type id of the primary association.
ASSOCIATIONS: dict[tuple[str, str], int] = {
    ("contact", "company"): 279,
    ("company", "contact"): 280,
    ("deal", "contact"): 3,
    ("contact", "deal"): 4,
    ("deal", "company"): 5,
    ("company", "deal"): 6,
    ("ticket", "contact"): 16,
    ("contact", "ticket"): 15,
    ("ticket", "company"): 26,
    ("company", "ticket"): 25,
    ("deal", "ticket"): 27,
    ("ticket", "deal"): 28,
}

#: Record type -> association type id of a created task to it (`create task`).
TASK_ASSOCIATIONS: dict[str, int] = {"contact": 204, "company": 192, "deal": 216, "ticket": 228}

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
)

#: Properties whose values are portal ids resolved through the lock file, and its table.
ID_PROPERTIES: dict[str, str] = {
    "dealstage": "stages",
    "hs_pipeline_stage": "stages",
    "pipeline": "pipelines",
    "hs_pipeline": "pipelines",
    "hubspot_owner_id": "owners",
}


_HUBSPOT_TOKEN = re.compile(r"\{\{\s*enrolled_object\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def from_hubspot_tokens(text: str, object_type: str) -> str:
    """HubSpot's personalisation tokens as wfdsl variables: `{{ enrolled_object.firstname }}`
    in a contact workflow is `{{ contact.firstname }}`.

    >>> from_hubspot_tokens("Hi {{ enrolled_object.firstname }}", "contact")
    'Hi {{ contact.firstname }}'
    """
    return _HUBSPOT_TOKEN.sub(lambda m: f"{{{{ {object_type}.{m.group(1)} }}}}", text)


def to_hubspot_tokens(text: str, object_type: str) -> str:
    """wfdsl variables of the enrolled record as HubSpot tokens (`from_hubspot_tokens` reversed).

    >>> to_hubspot_tokens("Hi {{ contact.firstname }}", "contact")
    'Hi {{ enrolled_object.firstname }}'
    """
    pattern = re.compile(r"\{\{\s*" + re.escape(object_type) + r"\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
    return pattern.sub(lambda m: f"{{{{ enrolled_object.{m.group(1)} }}}}", text)

"""Catalog: the object types and the event catalog, as plain data.

Shared by the checker and the runtime, so it imports nothing from other
wfdsl stages. An event applies to every object type (`ALL`), or to a set of
standard types, optionally plus every custom object type (`CUSTOM`).

>>> EVENTS["form.submitted"].attributes
('form', 'url', 'url.base', 'url.domain', 'url.path')
>>> EVENTS["list.added"].applies_to("deal", custom_types=frozenset())
True
>>> EVENTS["email.opened"].applies_to("deal", custom_types=frozenset())
False
"""

from __future__ import annotations

from wfdsl.frozen import frozen

#: The standard object types, in the order
STANDARD_OBJECT_TYPES: tuple[str, ...] = (
    "contact",
    "company",
    "deal",
    "ticket",
    "quote",
    "lead",
    "call",
    "meeting",
    "task",
    "invoice",
    "payment",
    "subscription",
    "conversation",
    "feedback",
    "user",
    "goal",
)

#: Marker in `EventSpec.objects`: every object type, standard or custom.
ALL = "all"
#: Marker in `EventSpec.objects`: every custom object type of the schema.
CUSTOM = "custom"

#: The event a `<type>.<prop> changed` trigger stands for.
PROPERTY_CHANGED = "property.changed"

#: Events that mention another workflow through their `workflow` attribute.
WORKFLOW_EVENTS: tuple[str, ...] = ("workflow.enrolled", "workflow.unenrolled", "workflow.goal_met")

_URL = ("url", "url.base", "url.domain", "url.path")


@frozen
class EventSpec:
    """One catalog entry: the event's name, the object types it applies to, its attributes."""

    name: str
    objects: frozenset[str]
    attributes: tuple[str, ...]

    def applies_to(self, object_type: str, *, custom_types: frozenset[str]) -> bool:
        """Whether a workflow of `object_type` can see this event."""
        if ALL in self.objects or object_type in self.objects:
            return True
        return CUSTOM in self.objects and object_type in custom_types

    def describe_objects(self) -> str:
        """`contact`, `all object types`, `contact, company, deal and custom objects`."""
        if ALL in self.objects:
            return "all object types"
        names = [t for t in STANDARD_OBJECT_TYPES if t in self.objects]
        if CUSTOM in self.objects:
            names.append("custom objects")
        if len(names) == 1:
            return names[0]
        return ", ".join(names[:-1]) + " and " + names[-1]


def _events(
    *rows: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
) -> dict[str, EventSpec]:
    table: dict[str, EventSpec] = {}
    for names, objects, attributes in rows:
        for name in names:
            table[name] = EventSpec(name=name, objects=frozenset(objects), attributes=attributes)
    return table


_C = ("contact",)

#: The event catalog: name -> EventSpec.
EVENTS: dict[str, EventSpec] = _events(
    (("ad.interacted",), _C, ("network", "type", "ad")),
    (("call.started", "call.ended"), _C, ("outcome", "duration")),
    (("record.created",), (ALL,), ()),
    ((PROPERTY_CHANGED,), (ALL,), ("property", "value", "previous")),
    (("email.clicked",), _C, ("email", "url.raw", "url.original")),
    (
        ("email.bounced", "email.delivered", "email.sent", "email.opened", "email.replied"),
        _C,
        ("email",),
    ),
    (("email.subscription_changed",), _C, ("subscription", "status")),
    (("form.interacted", "form.viewed"), _C, ("form", *_URL)),
    (("form.submitted",), _C, ("form", *_URL)),
    (("list.added", "list.removed"), ("contact", "company", "deal", CUSTOM), ("list",)),
    (("meeting.booked",), _C, ("meeting", "source")),
    (("meeting.outcome_changed",), _C, ("outcome",)),
    (("document.viewed", "document.closed", "document.shared"), _C, ("document",)),
    (
        (
            "sequence.enrolled",
            "sequence.finished",
            "sequence.unenrolled",
            "sequence.unenrolled_by_workflow",
            "sequence.unenrolled_manually",
            "sequence.meeting_booked",
        ),
        _C,
        ("sequence",),
    ),
    (
        ("cta.clicked", "cta.viewed", "cta_legacy.clicked", "cta_legacy.viewed"),
        _C,
        ("cta", *_URL),
    ),
    (("page.visited",), _C, _URL),
    (("workflow.goal_met",), _C, ("workflow",)),
    (("workflow.enrolled", "workflow.unenrolled"), (ALL,), ("workflow",)),
)

#: Input events that change records rather than being catalog events a trigger
#: names: the runtime turns them into catalog events.
INPUT_EVENTS: tuple[str, ...] = (
    "record.created",
    "record.updated",
    "list.added",
    "list.removed",
    "workflow.enroll",
)

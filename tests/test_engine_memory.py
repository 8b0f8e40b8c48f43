"""The memory CRM adapter: derived events, histories, idempotency, fault injection; registries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest

from wfdsl.adapters import adapter_class
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.runtime.facts import RecordFacts
from wfdsl.runtime.protocols import (
    Action,
    CRMAdapter,
    Event,
    PermanentAdapterError,
    StateStore,
    TransientAdapterError,
    VirtualClock,
)
from wfdsl.stores import store_class
from wfdsl.stores.memory import MemoryStore

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def later(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def crm() -> MemoryCRM:
    crm = MemoryCRM()
    crm.add_record("contact", "c1", {"email": "a@x.com", "city": "Oslo"}, at=T0)
    crm.add_record("company", "co1", {"name": "Acme"}, at=T0)
    crm.associate(("contact", "c1"), ("company", "co1"))
    return crm


def test_registries_find_the_memory_implementations() -> None:
    assert adapter_class("memory") is MemoryCRM
    assert store_class("memory") is MemoryStore
    assert isinstance(MemoryCRM(), CRMAdapter)
    assert isinstance(MemoryStore(), StateStore)


def test_updates_become_property_changed_events_with_previous_values(crm: MemoryCRM) -> None:
    events = crm.observe(
        Event(
            type="record.updated",
            object="contact",
            id="c1",
            at=later(1),
            properties={"city": "Bergen", "email": "a@x.com", "score": 3},
        )
    )
    assert [(e.type, dict(e.data)) for e in events] == [
        ("property.changed", {"property": "city", "value": "Bergen", "previous": "Oslo"}),
        ("property.changed", {"property": "score", "value": 3, "previous": None}),
    ]
    assert [v for _, v in crm.property_history("contact", "c1", "city")] == ["Oslo", "Bergen"]
    assert len(crm.event_history("contact", "c1", "property.changed")) == 2


def test_record_created_reports_every_property_as_changed() -> None:
    crm = MemoryCRM()
    events = crm.observe(
        Event(
            type="record.created",
            object="contact",
            id="c2",
            at=T0,
            properties={"email": "b@x.com", "lifecyclestage": "lead"},
        )
    )
    assert [e.type for e in events] == ["record.created", "property.changed", "property.changed"]
    assert list(crm.query("contact")) == ["c2"]


def test_lists_and_catalog_events(crm: MemoryCRM) -> None:
    added = crm.observe(Event(type="list.added", object="contact", id="c1", at=later(1), data={"list": "VIP"}))
    again = crm.observe(Event(type="list.added", object="contact", id="c1", at=later(2), data={"list": "VIP"}))
    assert [e.type for e in added] == ["list.added"] and again == []
    assert crm.get("contact", "c1").lists == frozenset({"VIP"})
    form = Event(type="form.submitted", object="contact", id="c1", at=later(3), data={"form": "Demo"})
    assert crm.observe(form) == [form]
    assert crm.event_history("contact", "c1", "form.submitted") == [(later(3), {"form": "Demo"})]


def test_actions_on_associated_records_and_idempotency(crm: MemoryCRM) -> None:
    action = Action(
        kind="set",
        object="contact",
        id="c1",
        at=later(5),
        args={"object": "company", "property": "tier", "value": "gold"},
    )
    first = crm.perform(action, "e1:steps.0:0")
    second = crm.perform(action, "e1:steps.0:0")
    assert first is second
    assert [(e.object, e.id, e.data["property"]) for e in first.events] == [("company", "co1", "tier")]
    assert crm.get("company", "co1").properties["tier"] == "gold"
    assert [key for key, _ in crm.performed] == ["e1:steps.0:0"]
    lonely = Action(
        kind="set", object="contact", id="c1", at=later(5), args={"object": "deal", "property": "x", "value": 1}
    )
    with pytest.raises(PermanentAdapterError, match="no associated deal"):
        crm.perform(lonely, "e1:steps.1:0")


def test_fault_injection(crm: MemoryCRM) -> None:
    email = Action(kind="send_email", object="contact", id="c1", at=later(1), args={"email": "Hi"})
    crm.fail_next("send_email", times=1)
    with pytest.raises(TransientAdapterError):
        crm.perform(email, "k1")
    crm.fail_next(error="permanent", message="bad address")
    with pytest.raises(PermanentAdapterError, match="bad address"):
        crm.perform(email, "k2")
    result = crm.perform(email, "k3")
    assert [e.type for e in result.events] == ["email.sent"]
    assert crm.outbox[-1]["args"] == {"email": "Hi"}


def test_an_email_performed_unheard_is_kept_logged_and_replayed_alike() -> None:
    heard, unheard = MemoryCRM(), MemoryCRM()
    for c in (heard, unheard):
        c.add_record("contact", "c1", {"email": "a@x.com"}, at=T0)
    email = Action(
        kind="send_email",
        object="contact",
        id="c1",
        at=later(1),
        args={"email": "Hi", "_enrollment": "e1"},
        enrollment="e1",
        workflow="W",
    )
    first = heard.perform(email, "k1")
    unheard.perform_unheard(email, "k1")
    assert unheard.outbox == heard.outbox
    assert unheard.performed == heard.performed
    assert unheard.event_history("contact", "c1", "email.sent") == heard.event_history("contact", "c1", "email.sent")
    replayed = unheard.perform(email, "k1")  # a replay gets the event the first run would have returned
    assert replayed == first
    assert unheard.perform(email, "k1") is replayed
    assert len(unheard.outbox) == 1
    assert len(unheard.event_history("contact", "c1", "email.sent")) == 1
    other = Action(kind="send_email", object="contact", id="c1", at=later(1), args={"email": "Bye"})
    unheard.perform_unheard(email, "k2")
    with pytest.raises(PermanentAdapterError):
        unheard.perform(other, "k2")
    unheard.fail_next("send_email")
    with pytest.raises(TransientAdapterError):
        unheard.perform_unheard(email, "k3")
    assert len(unheard.outbox) == 2


def test_facts_read_own_and_associated_records(crm: MemoryCRM) -> None:
    store = MemoryStore()
    record = crm.get("contact", "c1")
    assert record is not None
    facts = RecordFacts(crm, store, record, now=T0, tz=dt.timezone.utc)
    assert facts.value("contact", "city") == "Oslo"
    assert facts.value("company", "name") == "Acme"
    assert facts.value("deal", "amount") is None
    assert facts.history("contact", "city") == ["Oslo"]
    assert not facts.in_list("VIP") and not facts.enrolled_in("W")
    store.add_fact("enrolled", "W", "contact", "c1", T0)
    assert facts.enrolled_in("W") and not facts.reached_goal("W")
    before = facts.before({("contact", "city"): None}, {"VIP": True})
    assert before.value("contact", "city") is None and before.in_list("VIP")


def test_virtual_clock_never_goes_back() -> None:
    clock = VirtualClock(T0)
    clock.set(later(10))
    clock.set(later(5))
    assert clock.now() == later(10)


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("set", {"object": "contact", "property": "city", "value": "Rome"}),
        ("clear", {"object": "contact", "property": "city"}),
        ("increment", {"object": "contact", "property": "score", "by": 2}),
        ("assign_owner", {"owner": "o7"}),
    ],
)
def test_a_property_action_performed_unheard_is_kept_logged_and_replayed_alike(kind: str, args: dict[str, Any]) -> None:
    heard, unheard = MemoryCRM(), MemoryCRM()
    for c in (heard, unheard):
        c.add_record("contact", "c1", {"city": "Oslo", "score": 1}, at=T0)
    action = Action(kind=kind, object="contact", id="c1", at=later(1), args=args, enrollment="e1", workflow="W")
    first = heard.perform(action, "k1")
    unheard.perform_unheard(action, "k1")
    assert unheard.get("contact", "c1") == heard.get("contact", "c1")
    assert unheard.performed == heard.performed
    changed = "property.changed"
    assert unheard.event_history("contact", "c1", changed) == heard.event_history("contact", "c1", changed)
    for prop in ("city", "score", "hubspot_owner_id"):
        assert unheard.property_history("contact", "c1", prop) == heard.property_history("contact", "c1", prop)
    replayed = unheard.perform(action, "k1")  # a replay gets the events the first run returned
    assert replayed == first and len(first.events) == 1 and first.events[0].cause == "e1"
    assert len(unheard.event_history("contact", "c1", changed)) == 1
    other = attrs.evolve(action, args={**args, "object": "contact", "property": "zip"})
    with pytest.raises(PermanentAdapterError):
        unheard.perform(other, "k1")


def test_an_increment_of_text_performed_unheard_fails_and_changes_nothing() -> None:
    crm = MemoryCRM()
    crm.add_record("contact", "c1", {"score": "high"}, at=T0)
    action = Action(
        kind="increment",
        object="contact",
        id="c1",
        at=later(1),
        args={"object": "contact", "property": "score", "by": 1},
    )
    with pytest.raises(PermanentAdapterError):
        crm.perform_unheard(action, "k1")
    assert crm.performed == [] and crm.event_history("contact", "c1", "property.changed") == []

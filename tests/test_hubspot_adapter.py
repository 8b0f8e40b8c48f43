"""The hubspot:// CRM adapter against a local fake of HubSpot's API (never the internet)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubspot_fake import TOKEN, FakeHubSpot
from wfdsl.adapters.hubspot import (
    _LIMITERS,
    HubSpotCRM,
    RateLimiter,
    Settings,
    parse_url,
    search_filters,
    shared_limiter,
)
from wfdsl.adapters.hubspot_api import WebhookError, webhook_events
from wfdsl.host.registry import ConfigError, open_adapter
from wfdsl.plan.codec import criteria_from_data
from wfdsl.runtime.protocols import (
    Action,
    CRMAdapter,
    CRMReads,
    Event,
    PermanentAdapterError,
    TransientAdapterError,
)

UTC = dt.timezone.utc
AT = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeHubSpot) -> FakeHubSpot:
    """The running fake, emptied for each test."""
    url = server.url
    server.__init__()  # type: ignore[misc]
    server.url = url
    _LIMITERS.clear()  # no rate limit state carried from one test to the next
    return server


def make(fake: FakeHubSpot, tmp_path: Path, **options: object) -> HubSpotCRM:
    values = {"base_url": fake.url, "ledger": str(tmp_path / "ledger.db"), "burst": 10_000, "search_rate": 0.0}
    values.update(options)
    return HubSpotCRM(Settings(**values), TOKEN)  # type: ignore[arg-type]


def seed(fake: FakeHubSpot) -> None:
    fake.add("contacts", "101", {"email": "ann@example.com", "lifecyclestage": "lead", "hubspotscore": "42"})
    fake.add("companies", "201", {"name": "Acme"})
    fake.add("companies", "202", {"name": "Other"})
    fake.associate(("contacts", "101"), ("companies", "201"))
    fake.associate(("contacts", "101"), ("companies", "202"))
    fake.add_list("7", "Newsletter", "0-1", ["101"])
    fake.add_list("8", "Customers", "0-1", ["101"])
    fake.add_list("9", "Competitors", "0-1", ["101"])


def reads() -> CRMReads:
    return CRMReads(
        properties={"contact": frozenset({"email", "lifecyclestage", "hubspotscore"}), "company": frozenset({"name"})},
        associations={"contact": frozenset({"company"}), "company": frozenset({"contact"})},
        lists=True,
    )


def test_reads_properties_associations_and_lists(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    crm = make(fake, tmp_path)
    assert isinstance(crm, CRMAdapter)
    crm.prepare(reads())
    record = crm.get("contact", "101")
    assert record is not None
    # HubSpot sends numbers as text; the portal's property types turn them into numbers.
    assert record.properties["hubspotscore"] == 42
    assert record.properties["hs_object_id"] == "101"
    # The primary company first, though the API listed it last.
    assert record.associations["company"] == ("201", "202")
    # Three lists over two pages of memberships, by name.
    assert record.lists == frozenset({"Newsletter", "Customers", "Competitors"})
    (batch,) = fake.asked("POST", "/crm/v3/objects/contacts/batch/read")
    assert set(batch["properties"]) >= {"email", "lifecyclestage", "hubspotscore"}
    assert crm.get("contact", "999") is None
    crm.close()


def test_property_history_oldest_first(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    fake.change("contacts", "101", "lifecyclestage", "customer", AT)
    crm = make(fake, tmp_path)
    history = crm.property_history("contact", "101", "lifecyclestage")
    assert [value for _, value in history] == ["lead", "customer"]
    assert history[-1][0] == AT
    crm.close()


def test_query_pushes_criteria_down_and_pages_past_the_search_window(fake: FakeHubSpot, tmp_path: Path) -> None:
    for n in range(1, 251):
        fake.add("contacts", str(n), {"lifecyclestage": "lead" if n % 2 else "customer", "hubspotscore": str(n)})
    crm = make(fake, tmp_path)
    crm.prepare(CRMReads(properties={"contact": frozenset({"lifecyclestage"})}))
    criteria = {
        "op": "and",
        "items": [
            {"op": "eq", "object": "contact", "property": "lifecyclestage", "value": "lead"},
            {"op": "gt", "object": "contact", "property": "hubspotscore", "value": 20},
            {"op": "in_list", "list": "X"},  # not pushed down: the engine checks it
        ],
    }
    ids = list(crm.query("contact", criteria_from_data(criteria)))
    assert ids == [str(n) for n in range(21, 251) if n % 2]
    searches = fake.asked("POST", "/crm/v3/objects/contacts/search")
    assert len(searches) == 2  # 115 hits: a page of 100, then the rest after the last id
    first = searches[0]["filterGroups"][0]["filters"]
    assert {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"} in first
    assert {"propertyName": "hubspotscore", "operator": "GT", "value": "20"} in first
    assert {"propertyName": "hs_object_id", "operator": "GT", "value": ids[99]} in searches[1]["filterGroups"][0][
        "filters"
    ]
    # Each page was batch-read: get() answers from the cache.
    before = len(fake.requests)
    assert crm.get("contact", ids[5]) is not None
    assert len(fake.requests) == before
    crm.close()


def test_search_filters_keep_blank_values_for_negative_filters() -> None:
    groups = search_filters(
        criteria_from_data({"op": "ne", "object": "deal", "property": "dealstage", "value": "lost"}), "deal"
    )
    assert groups == [
        [{"propertyName": "dealstage", "operator": "NEQ", "value": "lost"}],
        [{"propertyName": "dealstage", "operator": "NOT_HAS_PROPERTY"}],
    ]
    # A branch that cannot be pushed down makes the whole OR unfiltered.
    either = {
        "op": "or",
        "items": [
            {"op": "eq", "object": "contact", "property": "city", "value": "Oslo"},
            {"op": "contains", "object": "contact", "property": "email", "value": "@x"},
        ],
    }
    assert search_filters(criteria_from_data(either), "contact") == []
    # Another object's property or a date never becomes a filter.
    assert (
        search_filters(
            criteria_from_data({"op": "eq", "object": "company", "property": "name", "value": "A"}), "contact"
        )
        == []
    )
    assert (
        search_filters(
            criteria_from_data({"op": "before", "object": "contact", "property": "d", "value": {"date": "2026-01-01"}}),
            "contact",
        )
        == []
    )


def test_set_is_performed_once_per_key_and_reports_the_change(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    crm = make(fake, tmp_path)
    action = Action(
        kind="set",
        object="contact",
        id="101",
        args={"object": "contact", "property": "lifecyclestage", "value": "customer"},
        at=AT,
    )
    result = crm.perform(action, "e1:steps.0:1")
    assert [(e.type, e.data["value"], e.data["previous"]) for e in result.events] == [
        ("property.changed", "customer", "lead")
    ]
    again = crm.perform(action, "e1:steps.0:1")
    assert again == result
    assert len(fake.asked("PATCH", "/crm/v3/objects/contacts/101")) == 1
    assert fake.objects["contacts"]["101"]["lifecyclestage"] == "customer"
    # A new adapter on the same ledger (a restarted process) repeats nothing either.
    crm.close()
    other = make(fake, tmp_path)
    other.perform(action, "e1:steps.0:1")
    assert len(fake.asked("PATCH", "/crm/v3/objects/contacts/101")) == 1
    # The echo HubSpot sends back for the adapter's own write is not a new change.
    echo = Event(type="record.updated", object="contact", id="101", at=AT, properties={"lifecyclestage": "customer"})
    assert other.observe(echo) == []
    other.close()


def test_updates_of_an_associated_record_and_increment(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    crm = make(fake, tmp_path)
    crm.prepare(reads())
    crm.perform(
        Action(
            kind="set",
            object="contact",
            id="101",
            args={"object": "company", "property": "name", "value": "Acme AS"},
            at=AT,
        ),
        "k1",
    )
    assert fake.objects["companies"]["201"]["name"] == "Acme AS"  # the primary company
    crm.perform(
        Action(
            kind="increment",
            object="contact",
            id="101",
            args={"object": "contact", "property": "hubspotscore", "by": 8},
            at=AT,
        ),
        "k2",
    )
    assert fake.objects["contacts"]["101"]["hubspotscore"] == "50"
    crm.perform(
        Action(kind="clear", object="contact", id="101", args={"object": "contact", "property": "hubspotscore"}, at=AT),
        "k3",
    )
    assert fake.asked("PATCH", "/crm/v3/objects/contacts/101")[-1] == {"properties": {"hubspotscore": ""}}
    crm.close()


def test_email_is_sent_once_even_when_the_first_attempt_fails(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    fake.emails.append({"id": "5551", "name": "Welcome #1"})
    fake.fail("/marketing/v4/email/single-send", 503)
    crm = make(fake, tmp_path)
    action = Action(kind="send_email", object="contact", id="101", args={"email": "Welcome #1"}, at=AT, enrollment="e1")
    with pytest.raises(TransientAdapterError, match="503"):
        crm.perform(action, "e1:steps.0:1")
    result = crm.perform(action, "e1:steps.0:1")  # the unit runs again with the same key
    assert [e.type for e in result.events] == ["email.sent"]
    crm.perform(action, "e1:steps.0:1")
    assert len(fake.sends) == 1
    assert fake.sends[0] == {
        "emailId": 5551,
        "message": {"to": "ann@example.com", "sendId": "e1:steps.0:1"},
        "contactProperties": {},
        "customProperties": {},
    }
    # The email.sent event is kept for `has email.sent` criteria.
    assert len(crm.event_history("contact", "101", "email.sent")) == 1
    crm.close()


def test_rate_limit_answer_is_transient_with_retry_after(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    fake.fail("/crm/v3/objects/contacts/batch/read", 429, retry_after="7")
    crm = make(fake, tmp_path, max_wait=1.0)
    with pytest.raises(TransientAdapterError) as caught:
        crm.get("contact", "101")
    assert caught.value.retry_after == 7.0
    assert "rate limit" in str(caught.value)
    # The shared bucket now holds calls back: the next call waits longer than allowed.
    with pytest.raises(TransientAdapterError) as waited:
        crm.get("contact", "101")
    assert waited.value.retry_after is not None and waited.value.retry_after > 1.0
    crm.close()


def test_a_burst_of_server_errors_then_success(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    fake.fail("/crm/v3/objects/contacts", 502, times=3)
    crm = make(fake, tmp_path)
    for _ in range(3):
        with pytest.raises(TransientAdapterError, match="502"):
            crm.get("contact", "101")
    assert crm.get("contact", "101") is not None
    crm.close()


def test_slow_answer_never_doubles_an_email(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    fake.emails.append({"id": "5551", "name": "Welcome #1"})
    fake.fail("/marketing/v4/email/single-send", 200, delay=2.0, then_perform=True)
    crm = make(fake, tmp_path, timeout=0.5)
    action = Action(kind="send_email", object="contact", id="101", args={"email": "Welcome #1"}, at=AT)
    crm.get("contact", "101")
    with pytest.raises(PermanentAdapterError, match="may have been performed"):
        crm.perform(action, "k-slow")
    with pytest.raises(PermanentAdapterError, match="not repeated"):
        crm.perform(action, "k-slow")
    # A slow update is only transient: setting a value twice is harmless.
    fake.fail("/crm/v3/objects/contacts/101", 200, method="PATCH", delay=2.0)
    update = Action(
        kind="set", object="contact", id="101", args={"object": "contact", "property": "city", "value": "Oslo"}, at=AT
    )
    with pytest.raises(TransientAdapterError):
        crm.perform(update, "k-set")
    crm.perform(update, "k-set")
    assert fake.objects["contacts"]["101"]["city"] == "Oslo"
    crm.close()


def test_records_tasks_notes_lists_owners_and_webhooks(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    fake.owners.append({"id": "77", "email": "alice@example.com", "firstName": "Alice"})
    fake.add_list("12", "Trial", "0-1", [])
    crm = make(fake, tmp_path)
    created = crm.perform(
        Action(
            kind="create_record",
            object="contact",
            id="101",
            args={"object_type": "deal", "properties": {"dealname": "Renewal", "amount": 1000}},
            at=AT,
        ),
        "c1",
    )
    new_id = created.data["id"]
    assert fake.objects["deals"][new_id]["amount"] == "1000"
    assert fake.associations[("deals", new_id)]["contacts"] == ["101"]
    assert [e.type for e in created.events][:1] == ["record.created"]
    task = crm.perform(
        Action(
            kind="create_task",
            object="contact",
            id="101",
            args={"title": "Call Ann", "priority": "high", "due_at": "2026-03-03T10:00:00+00:00"},
            at=AT,
        ),
        "t1",
    )
    assert fake.objects["tasks"][task.data["id"]]["hs_task_priority"] == "HIGH"
    (task_body,) = fake.asked("POST", "/crm/v3/objects/tasks")
    assert task_body["associations"][0]["types"][0]["associationTypeId"] == 204
    crm.perform(
        Action(kind="assign_owner", object="contact", id="101", args={"owner": "alice@example.com"}, at=AT), "o1"
    )
    assert fake.objects["contacts"]["101"]["hubspot_owner_id"] == "77"
    added = crm.perform(Action(kind="add_to_list", object="contact", id="101", args={"list": "Trial"}, at=AT), "l1")
    assert fake.lists["12"]["members"] == ["101"]
    assert [e.type for e in added.events] == ["list.added"]
    crm.perform(
        Action(
            kind="notify",
            object="contact",
            id="101",
            args={"recipient": "owner", "subject": "New MQL", "body": "ann"},
            at=AT,
        ),
        "n1",
    )
    (note,) = fake.asked("POST", "/crm/v3/objects/notes")
    assert "New MQL" in note["properties"]["hs_note_body"] and note["properties"]["hubspot_owner_id"] == "77"
    crm.perform(
        Action(
            kind="webhook", object="contact", id="101", args={"url": f"{fake.url}/hooks/a", "body": '{"x": 1}'}, at=AT
        ),
        "w1",
    )
    assert fake.hooks == [{"name": "a", "body": {"x": 1}}]
    with pytest.raises(PermanentAdapterError, match="no contact list named 'Nope'"):
        crm.perform(Action(kind="add_to_list", object="contact", id="101", args={"list": "Nope"}, at=AT), "l2")
    crm.close()


def test_the_token_never_shows(fake: FakeHubSpot, tmp_path: Path) -> None:
    seed(fake)
    crm = HubSpotCRM(Settings(base_url=fake.url, ledger=str(tmp_path / "l.db")), "pat-wrong-secret-token")
    with pytest.raises(PermanentAdapterError) as caught:
        crm.get("contact", "101")
    assert "401" in str(caught.value) and "HUBSPOT_TOKEN" in str(caught.value)
    assert "secret" not in str(caught.value) and "secret" not in repr(crm)
    crm.close()


def test_url_options_and_configuration_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="set HUBSPOT_TOKEN"):
        open_adapter("hubspot://")
    with pytest.raises(ConfigError, match="unknown option 'nope'"):
        open_adapter("hubspot://?nope=1")
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:9")
    assert parse_url("hubspot://").base_url == "http://127.0.0.1:9"
    assert parse_url("hubspot://?base_url=http://127.0.0.1:8").base_url == "http://127.0.0.1:8"


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.setenv("HUBSPOT_TOKEN", "x")
    with pytest.raises(ConfigError, match=r"pip install 'wfdsl-crm\[hubspot\]'"):
        open_adapter(f"hubspot://?ledger={tmp_path / 'l.db'}")


def test_token_bucket_is_shared_and_throttles() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(burst=10, interval=10.0, daily=1000, clock=lambda: now[0], sleep=sleep)
    for _ in range(25):
        limiter.acquire()
    # 10 at once, then one a second: 15 s of waiting, never a request over the limit.
    assert sum(slept) == pytest.approx(15.0)
    daily = RateLimiter(burst=100, interval=10.0, daily=3, clock=lambda: 0.0, sleep=lambda s: None)
    for _ in range(3):
        daily.acquire()
    with pytest.raises(TransientAdapterError, match="daily"):
        daily.acquire()
    assert shared_limiter("t", "http://x") is shared_limiter("t", "http://x")
    assert shared_limiter("t", "http://x") is not shared_limiter("u", "http://x")


def test_webhook_deliveries_become_events() -> None:
    payload = [
        {
            "subscriptionType": "contact.propertyChange",
            "objectId": 101,
            "eventId": 1,
            "portalId": 62515,
            "occurredAt": 1772445600000,
            "propertyName": "lifecyclestage",
            "propertyValue": "lead",
            "changeSource": "CRM_UI",
        },
        {
            "subscriptionType": "contact.creation",
            "objectId": 102,
            "eventId": 2,
            "portalId": 62515,
            "occurredAt": 1772445600000,
        },
        {
            "subscriptionType": "object.propertyChange",
            "objectTypeId": "0-3",
            "objectId": 9,
            "eventId": 3,
            "portalId": 62515,
            "occurredAt": 1772445600000,
            "propertyName": "dealstage",
            "propertyValue": "closedwon",
        },
        {
            "subscriptionType": "contact.deletion",
            "objectId": 103,
            "eventId": 4,
            "portalId": 62515,
            "occurredAt": 1772445600000,
        },
    ]
    events, ignored = webhook_events(payload)
    assert events[0] == {
        "type": "record.updated",
        "object": "contact",
        "id": "101",
        "at": "2026-03-02T10:00:00+00:00",
        "properties": {"lifecyclestage": "lead"},
        "event_id": "hubspot:62515:contact.propertyChange:1:101",
    }
    assert events[1]["type"] == "record.created" and events[2]["object"] == "deal"
    assert ignored == ["contact.deletion has no wfdsl event"]
    with pytest.raises(WebhookError, match=r"\$\[0\]\.occurredAt"):
        webhook_events([{"subscriptionType": "contact.creation", "objectId": 1}])


def test_portal_ids_from_the_lock_file_of_wfdsl_import(
    fake: FakeHubSpot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake)
    fake.add_list("12", "Trial", "0-1", [])
    fake.owners.append({"id": "61002", "email": "alice@example.com"})
    lock = tmp_path / "hubspot.lock.toml"
    lock.write_text(
        '[lists]\n"12" = "Trial"\n\n[marketing_emails]\n"14410" = "Welcome #1"\n\n'
        '[owners]\n"61002" = "alice@example.com"\n',
        encoding="utf-8",
    )
    crm = make(fake, tmp_path, lock=str(lock))
    crm.perform(Action(kind="add_to_list", object="contact", id="101", args={"list": "Trial"}, at=AT), "l1")
    crm.perform(Action(kind="send_email", object="contact", id="101", args={"email": "Welcome #1"}, at=AT), "s1")
    crm.perform(
        Action(kind="assign_owner", object="contact", id="101", args={"owner": "alice@example.com"}, at=AT), "o1"
    )
    assert fake.lists["12"]["members"] == ["101"]
    assert fake.sends[0]["emailId"] == 14410
    assert fake.objects["contacts"]["101"]["hubspot_owner_id"] == "61002"
    # No look-ups by name: the lock file named them.
    assert not [
        p for m, p, _ in fake.requests if "/name/" in p or p.startswith(("/marketing/v3/emails", "/crm/v3/owners"))
    ]
    crm.close()
    lock.write_text("[lists\n", encoding="utf-8")
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match="not valid TOML"):
        open_adapter(f"hubspot://?lock={lock}&ledger={tmp_path / 'l2.db'}")


def test_the_engine_enrolls_on_a_change_and_retries_when_hubspot_says(fake: FakeHubSpot, tmp_path: Path) -> None:
    """In process: a `record.updated` from HubSpot enrolls the contact (the previous value
    comes from the property history), the send is refused with Retry-After 30, and the
    engine retries 30 seconds later, not after its own backoff; one email goes out."""
    from engine_helpers import plans
    from wfdsl.runtime.engine import Engine
    from wfdsl.runtime.protocols import VirtualClock
    from wfdsl.stores.memory import MemoryStore

    seed(fake)
    fake.emails.append({"id": "5551", "name": "Welcome #1"})
    fake.change("contacts", "101", "lifecyclestage", "subscriber", AT - dt.timedelta(days=1))
    fake.change("contacts", "101", "lifecyclestage", "lead", AT)
    fake.fail("/marketing/v4/email/single-send", 429, retry_after="30")
    crm = make(fake, tmp_path)
    store = MemoryStore()
    clock = VirtualClock(AT)
    workflow = 'workflow "W" {\n  object contact\n  enroll when contact.lifecyclestage = "lead"\n'
    workflow += '  steps {\n    send email "Welcome #1"\n  }\n}\n'
    engine = Engine(plans(workflow), crm, store, clock)
    engine.activate("W")
    engine.ingest(
        Event(type="record.updated", object="contact", id="101", at=AT, properties={"lifecyclestage": "lead"})
    )
    kinds = [(e.kind, e.detail.get("retry_at")) for e in store.history()]
    assert kinds[0] == ("enrolled", None)
    assert kinds[1] == ("failed", (AT + dt.timedelta(seconds=30)).isoformat())
    assert fake.sends == []
    clock.set(AT + dt.timedelta(seconds=30))
    engine.run_due()
    assert [e.kind for e in store.history()][-2:] == ["action", "completed"]
    assert len(fake.sends) == 1
    crm.close()

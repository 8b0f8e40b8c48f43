"""HubSpot CRM adapter: the CRM v3 APIs of a real portal behind the `CRMAdapter` protocol.

`hubspot://` (`pip install 'wfdsl-crm[hubspot]'`, over httpx). Records are read
from the portal (CRM v3 objects, batch read, v4 associations, lists
memberships, property history), queried with the search API (criteria
pushed down where HubSpot's filters mean the same, paged past the search
API's 10,000-result window), and changed by the workflows' actions (update,
create with associations, tasks and notes, list membership, owners,
marketing single send, outgoing webhooks).

    hubspot://                                   api.hubapi.com, ledger ./wfdsl-hubspot.db
    hubspot://?base_url=http://127.0.0.1:8181    another API root (a test double)
    hubspot://?ledger=/var/lib/wfdsl/hubspot.db&burst=190&daily=625000

The private app token comes from `HUBSPOT_TOKEN`; it is sent in the
`Authorization` header and nowhere else (never logged, never in an error
or a trace). `HUBSPOT_BASE_URL` sets the API root when the URL does not.

One retry mechanism: this adapter never retries. A call HubSpot did not
perform (429, 5xx, no connection) raises `TransientAdapterError` (with
`retry_after` from the `Retry-After` header); the engine retries an action
with backoff, and the service loop retries a unit whose read failed. Rate
limits are kept ahead of time by one token bucket per token and API root,
shared by every adapter of the process (the burst window and the daily
quota, corrected by HubSpot's `X-HubSpot-RateLimit-*` headers; the search
API's own limit of a few requests per second).

Idempotency: the ledger, a small SQLite file beside the state store, logs
each idempotency key before its call and its result after it, committed at
once (outside the store's transaction), so a unit that is rolled back and
run again never repeats an action whose key is in the ledger. Marketing
emails also carry the key as HubSpot's `sendId`, which HubSpot itself
sends once. A request that timed out after it was sent may or may not have
been performed: an action that must not happen twice (email, create,
notify, webhook, increment) then fails for good with a message saying so,
instead of risking a second one. The ledger also keeps the event history
the criteria read (`has form.submitted …`) and the changes the adapter
made itself, so that the webhooks HubSpot sends back for them are not
taken for new changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

import attrs

from wfdsl.adapters.hubspot_api import api_name, type_id
from wfdsl.adapters.shared import OWNER_PROPERTY, email_sent
from wfdsl.runtime.protocols import (
    Action,
    ActionResult,
    CRMReads,
    Event,
    PermanentAdapterError,
    Record,
    TransientAdapterError,
    utc,
)
from wfdsl.runtime.values import as_datetime, as_number, hubspot_value
from wfdsl.stores.codec import dumps, loads
from wfdsl.stores.errors import StoreError
from wfdsl.stores.sqlitedb import connect, migrate

if TYPE_CHECKING:
    import httpx

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_LEDGER = "wfdsl-hubspot.db"
TOKEN_ENV = "HUBSPOT_TOKEN"
BASE_URL_ENV = "HUBSPOT_BASE_URL"
EXTRA_HINT = "the HubSpot adapter needs: pip install 'wfdsl-crm[hubspot]'"
#: `PRAGMA application_id` of a HubSpot ledger file ("wfhs").
LEDGER_APPLICATION_ID = 0x77666873
#: Kinds whose repetition is harmless (setting a value twice is setting it once).
REPEATABLE = frozenset({"set", "clear", "copy", "assign_owner", "rotate_owner", "add_to_list", "remove_from_list"})
#: HubSpot-defined association type ids, (from, to) -> id, for records the actions create.
ASSOCIATION_TYPES: Mapping[tuple[str, str], int] = {
    ("deal", "contact"): 3,
    ("contact", "deal"): 4,
    ("ticket", "contact"): 16,
    ("contact", "ticket"): 15,
    ("company", "contact"): 280,
    ("contact", "company"): 279,
    ("deal", "company"): 341,
    ("company", "deal"): 342,
    ("ticket", "company"): 339,
    ("company", "ticket"): 340,
    ("ticket", "deal"): 28,
    ("deal", "ticket"): 27,
    ("task", "contact"): 204,
    ("task", "company"): 192,
    ("task", "deal"): 216,
    ("task", "ticket"): 230,
    ("note", "contact"): 202,
    ("note", "company"): 190,
    ("note", "deal"): 214,
    ("note", "ticket"): 228,
}
#: Properties read when the workflows did not say which they need (besides the owner and id).
DEFAULT_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "contact": ("email", "firstname", "lastname", "lifecyclestage", "createdate", "lastmodifieddate"),
    "company": ("name", "domain", "createdate"),
    "deal": ("dealname", "amount", "dealstage", "pipeline", "closedate"),
    "ticket": ("subject", "content", "hs_pipeline", "hs_pipeline_stage"),
}
#: Associations read when the workflows did not say which they need.
DEFAULT_ASSOCIATIONS = ("contact", "company", "deal", "ticket")
SEARCH_PAGE = 100
BATCH = 100

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE ledger (
        key TEXT PRIMARY KEY, state TEXT NOT NULL, kind TEXT NOT NULL,
        object TEXT NOT NULL, id TEXT NOT NULL, at TEXT NOT NULL, result TEXT
    );
    CREATE TABLE events (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        object TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
        at TEXT NOT NULL, data TEXT NOT NULL
    );
    CREATE INDEX events_key ON events (object, id, type);
    CREATE TABLE own_writes (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        object TEXT NOT NULL, id TEXT NOT NULL, prop TEXT NOT NULL, value TEXT NOT NULL, at TEXT NOT NULL
    );
    CREATE INDEX own_writes_key ON own_writes (object, id, prop);
    """,
)


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise ConfigurationError(EXTRA_HINT) from None
    return httpx


class ConfigurationError(ValueError):
    """The adapter cannot start as configured (a missing token or extra, a bad option)."""


class UncertainOutcome(TransientAdapterError):
    """The request left but no answer came back: HubSpot may or may not have performed it."""


# ---------------------------------------------------------------- rate limits


class RateLimiter:
    """A token bucket for HubSpot's burst window, a daily quota and the search API's
    own limit, shared by every adapter of a process that uses one token and API root.

    `acquire` waits for a token (throttling, not retrying) at most `max_wait`
    seconds; beyond that it raises `TransientAdapterError` with `retry_after`.

    >>> limiter = RateLimiter(burst=2, interval=10.0, daily=3, clock=lambda: 0.0, sleep=lambda s: None)
    >>> limiter.acquire(); limiter.acquire(); limiter.tokens
    0.0
    """

    def __init__(
        self,
        *,
        burst: int = 100,
        interval: float = 10.0,
        daily: int = 250_000,
        search_per_second: float = 4.0,
        max_wait: float = 30.0,
        clock: Any = time.monotonic,
        sleep: Any = time.sleep,
    ) -> None:
        self.burst = max(1, burst)
        self.interval = interval
        self.daily = daily
        self.search_per_second = search_per_second
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self.tokens = float(self.burst)
        self._stamp = clock()
        self._blocked_until = 0.0
        self._search_next = 0.0
        self._day = dt.datetime.now(dt.timezone.utc).date()
        self.used_today = 0
        self.waited = 0.0  # seconds spent waiting for tokens (for tests and metrics)

    def _refill(self, now: float) -> None:
        rate = self.burst / self.interval
        self.tokens = min(float(self.burst), self.tokens + (now - self._stamp) * rate)
        self._stamp = now

    def _wait_needed(self, now: float, search: bool) -> float:
        today = dt.datetime.now(dt.timezone.utc).date()
        if today != self._day:
            self._day, self.used_today = today, 0
        if self.daily and self.used_today >= self.daily:
            midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
            left = (midnight - dt.datetime.now(dt.timezone.utc)).total_seconds()
            raise TransientAdapterError(
                f"HubSpot's daily API limit ({self.daily} calls) is used up", retry_after=max(1.0, left)
            )
        self._refill(now)
        wait = max(0.0, self._blocked_until - now)
        if self.tokens < 1.0:
            wait = max(wait, (1.0 - self.tokens) * self.interval / self.burst)
        if search and self.search_per_second > 0:
            wait = max(wait, self._search_next - now)
        return wait

    def acquire(self, *, search: bool = False) -> None:
        """Take one call from the budget, waiting for it when needed."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_needed(now, search)
                if wait <= 0:
                    self.tokens -= 1.0
                    self.used_today += 1
                    if search and self.search_per_second > 0:
                        self._search_next = now + 1.0 / self.search_per_second
                    return
                if wait > self.max_wait:
                    raise TransientAdapterError(
                        f"HubSpot's rate limit leaves no call for {wait:.0f} s", retry_after=wait
                    )
            self.waited += wait
            self._sleep(wait)

    def penalise(self, seconds: float) -> None:
        """No call for `seconds` (after a 429): the window is spent."""
        with self._lock:
            now = self._clock()
            self._blocked_until = max(self._blocked_until, now + seconds)
            self.tokens = min(self.tokens, 0.0)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Follow HubSpot's own count (`X-HubSpot-RateLimit-Remaining`, `-Daily-Remaining`)."""
        with self._lock:
            remaining = _int(headers.get("x-hubspot-ratelimit-remaining"))
            if remaining is not None:
                self._refill(self._clock())
                self.tokens = min(self.tokens, float(remaining))
            daily_left = _int(headers.get("x-hubspot-ratelimit-daily-remaining"))
            daily_max = _int(headers.get("x-hubspot-ratelimit-daily"))
            if daily_left is not None and (daily_max or self.daily):
                self.used_today = max(self.used_today, (daily_max or self.daily) - daily_left)


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(token: str, base_url: str, **options: Any) -> RateLimiter:
    """The process-wide limiter of one token and API root (created on first use; the
    limits of the latest adapter opened apply)."""
    key = hashlib.sha256(f"{base_url}\0{token}".encode()).hexdigest()
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = RateLimiter(**options)
        else:
            with limiter._lock:
                for name, value in options.items():
                    setattr(limiter, name, value)
        return limiter


# ---------------------------------------------------------------- the ledger


class Ledger:
    """Idempotency keys, event history and own writes, committed at once in a SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = connect(path, LEDGER_APPLICATION_ID, "HubSpot ledger")
        try:
            migrate(self._conn, MIGRATIONS, LEDGER_APPLICATION_ID, path, "HubSpot ledger")
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def entry(self, key: str) -> tuple[str, Any] | None:
        rows = self._run("SELECT state, result FROM ledger WHERE key = ?", (key,))
        if not rows:
            return None
        state, result = rows[0]
        return state, None if result is None else loads(result)

    def start(self, key: str, action: Action) -> None:
        self._run(
            "INSERT OR REPLACE INTO ledger (key, state, kind, object, id, at, result) "
            "VALUES (?, 'started', ?, ?, ?, ?, NULL)",
            (key, action.kind, action.object, action.id, utc(action.at).isoformat()),
        )

    def progress(self, key: str, data: Mapping[str, Any]) -> None:
        """What a multi-call action did so far (a created record's id)."""
        self._run("UPDATE ledger SET result = ? WHERE key = ?", (dumps(dict(data)), key))

    def finish(self, key: str, result: Mapping[str, Any]) -> None:
        self._run("UPDATE ledger SET state = 'done', result = ? WHERE key = ?", (dumps(dict(result)), key))

    def mark(self, key: str, state: str) -> None:
        self._run("UPDATE ledger SET state = ? WHERE key = ?", (state, key))

    def performed(self) -> list[dict[str, Any]]:
        rows = self._run("SELECT key, kind, object, id, at FROM ledger WHERE state = 'done' ORDER BY at, key")
        return [{"key": k, "kind": kind, "object": o, "id": i, "at": at} for k, kind, o, i, at in rows]

    def add_event(self, event: Event) -> None:
        self._run(
            "INSERT INTO events (object, id, type, at, data) VALUES (?, ?, ?, ?, ?)",
            (event.object, event.id, event.type, utc(event.at).isoformat(), dumps(dict(event.data))),
        )

    def events(self, object_type: str, record_id: str, event_type: str) -> list[tuple[dt.datetime, Any]]:
        rows = self._run(
            "SELECT at, data FROM events WHERE object = ? AND id = ? AND type = ? ORDER BY n",
            (object_type, record_id, event_type),
        )
        return [(dt.datetime.fromisoformat(at), loads(data)) for at, data in rows]

    def own_write(self, object_type: str, record_id: str, prop: str, value: str, at: dt.datetime) -> None:
        self._run(
            "INSERT INTO own_writes (object, id, prop, value, at) VALUES (?, ?, ?, ?, ?)",
            (object_type, record_id, prop, value, utc(at).isoformat()),
        )

    def take_own_write(self, object_type: str, record_id: str, prop: str, value: str) -> bool:
        """True (and forgotten) when the adapter itself wrote this value: HubSpot's echo."""
        with self._lock:
            row = self._conn.execute(
                "SELECT n FROM own_writes WHERE object = ? AND id = ? AND prop = ? AND value = ? ORDER BY n LIMIT 1",
                (object_type, record_id, prop, value),
            ).fetchone()
            if row is None:
                return False
            self._conn.execute("DELETE FROM own_writes WHERE n = ?", (row[0],))
            return True


# ---------------------------------------------------------------- values


def to_hubspot(value: Any) -> str:
    """A wfdsl value in the form HubSpot's API takes: text (`"true"`, `"42"`, `""` to clear).
    (Values read go the other way through `wfdsl.runtime.values.hubspot_value`.)

    >>> to_hubspot(True), to_hubspot(42.0), to_hubspot(None), to_hubspot("2026-03-31")
    ('true', '42', '', '2026-03-31')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _moment(value: Any) -> dt.datetime:
    """A history timestamp (ISO text or epoch milliseconds) as aware UTC."""
    return as_datetime(value) or dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------- search push-down

_SIMPLE_OPS = {"eq": "EQ", "lt": "LT", "le": "LTE", "gt": "GT", "ge": "GTE"}


def _literal(value: Any) -> str | None:
    """A criteria literal HubSpot's filters compare the same way; None when they would not."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and math.isfinite(value):
        return to_hubspot(value)
    if isinstance(value, str):
        return value
    return None  # dates, times, percentages: compared in the workflow's time zone, not pushed


def _leaf(node: Mapping[str, Any], object_type: str) -> list[list[dict[str, Any]]] | None:
    """Filter groups (OR of ANDs) that every record meeting `node` matches; None: no filter."""
    if "property" not in node or node.get("object") != object_type:
        return None
    prop = str(node["property"])
    op = node.get("op")
    if op == "known":
        return [[{"propertyName": prop, "operator": "HAS_PROPERTY"}]]
    if op == "unknown":
        return [[{"propertyName": prop, "operator": "NOT_HAS_PROPERTY"}]]
    if op in _SIMPLE_OPS:
        value = _literal(node.get("value"))
        if value is None or (op != "eq" and isinstance(node.get("value"), str)):
            return None  # text order differs between HubSpot and wfdsl
        return [[{"propertyName": prop, "operator": _SIMPLE_OPS[op], "value": value}]]
    if op == "ne":
        value = _literal(node.get("value"))
        if value is None:
            return None
        # A blank value matches a negative filter in wfdsl; HubSpot's NEQ leaves blanks out.
        return [
            [{"propertyName": prop, "operator": "NEQ", "value": value}],
            [{"propertyName": prop, "operator": "NOT_HAS_PROPERTY"}],
        ]
    if op == "in":
        values = [_literal(v) for v in node.get("values", [])]
        if not values or any(v is None for v in values):
            return None
        return [[{"propertyName": prop, "operator": "IN", "values": values}]]
    if op == "between":
        low, high = node.get("low"), node.get("high")
        if isinstance(low, bool) or isinstance(high, bool):
            return None
        if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
            return None
        return [[{"propertyName": prop, "operator": "BETWEEN", "value": _literal(low), "highValue": _literal(high)}]]
    return None


def _groups(node: Any, object_type: str) -> list[list[dict[str, Any]]] | None:
    if not isinstance(node, Mapping):
        return None
    op = node.get("op")
    if op == "and":
        parts = [g for g in (_groups(c, object_type) for c in node.get("items", node.get("args", []))) if g]
        if not parts:
            return None
        out: list[list[dict[str, Any]]] = [[]]
        for part in parts:
            out = [a + b for a in out for b in part]
            if len(out) > 5:
                return None
        return out
    if op == "or":
        alternatives = [_groups(c, object_type) for c in node.get("items", node.get("args", []))]
        if not alternatives or any(a is None for a in alternatives):
            return None  # one branch can match anything
        merged = [group for alternative in alternatives if alternative for group in alternative]
        return merged if len(merged) <= 5 else None
    return _leaf(node, object_type)


def search_filters(criteria: Mapping[str, Any] | None, object_type: str) -> list[list[dict[str, Any]]]:
    """HubSpot search filter groups for plan criteria: records meeting the criteria
    all match them (the engine checks each record again); [] when nothing translates.

    >>> search_filters({"op": "eq", "object": "contact", "property": "lifecyclestage", "value": "lead"}, "contact")
    [[{'propertyName': 'lifecyclestage', 'operator': 'EQ', 'value': 'lead'}]]
    """
    groups = _groups(criteria, object_type) if criteria else None
    if not groups:
        return []
    if len(groups) > 5 or sum(len(g) for g in groups) > 18 or any(len(g) > 5 for g in groups):
        return []
    return groups


# ---------------------------------------------------------------- the adapter


@attrs.frozen(kw_only=True)
class Settings:
    """The options of a `hubspot://` URL."""

    base_url: str = DEFAULT_BASE_URL
    ledger: str = DEFAULT_LEDGER
    timeout: float = 10.0
    burst: int = 100
    interval: float = 10.0
    daily: int = 250_000
    search_rate: float = 4.0
    max_wait: float = 30.0
    cache_seconds: float = 2.0
    lock: str = ""  # a hubspot.lock.toml (as `wfdsl import` writes it): portal ids by name


_OPTIONS = {
    "base_url": str,
    "ledger": str,
    "timeout": float,
    "burst": int,
    "interval": float,
    "daily": int,
    "search_rate": float,
    "max_wait": float,
    "cache_seconds": float,
    "lock": str,
}


def parse_url(url: str, env: Mapping[str, str] | None = None) -> Settings:
    """The settings of a `hubspot://` URL (options as a query string).

    >>> parse_url("hubspot://?base_url=http://127.0.0.1:9&burst=10", env={}).burst
    10
    """
    env = os.environ if env is None else env
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "hubspot":
        raise ConfigurationError(f"not a hubspot URL: {url!r}")
    location, _, query = rest.partition("?")
    if location.strip("/"):
        raise ConfigurationError("options go in the query string, e.g. hubspot://?base_url=…")
    values: dict[str, Any] = {}
    for name, found in parse_qs(query, keep_blank_values=True).items():
        if name not in _OPTIONS:
            raise ConfigurationError(f"unknown option {name!r} (known: {', '.join(_OPTIONS)})")
        try:
            values[name] = _OPTIONS[name](found[-1])
        except ValueError:
            raise ConfigurationError(f"{name}={found[-1]!r}: expected a number") from None
    if "base_url" not in values and env.get(BASE_URL_ENV):
        values["base_url"] = env[BASE_URL_ENV]
    settings = Settings(**values)
    if not settings.base_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"base_url {settings.base_url!r}: expected http:// or https://")
    return settings


class HubSpotCRM:
    """A `CRMAdapter` over a HubSpot portal's API (see the module docs)."""

    def __init__(self, settings: Settings, token: str, *, client: httpx.Client | None = None) -> None:
        lib = _httpx()
        if not token:
            raise ConfigurationError(f"set {TOKEN_ENV} to the private app's access token")
        self.settings = settings
        self._token = token
        self._client: httpx.Client = client or lib.Client(
            base_url=settings.base_url.rstrip("/"),
            timeout=settings.timeout,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        self.limiter = shared_limiter(
            token,
            settings.base_url,
            burst=settings.burst,
            interval=settings.interval,
            daily=settings.daily,
            search_per_second=settings.search_rate,
            max_wait=settings.max_wait,
        )
        try:
            self.ledger = Ledger(settings.ledger)
        except StoreError as error:
            raise ConfigurationError(str(error)) from error
        self._reads: CRMReads | None = None
        self._cache: dict[tuple[str, str], tuple[float, Record]] = {}
        self._cache_lock = threading.Lock()
        self._names: dict[tuple[str, str], str] = _lock_names(settings.lock) if settings.lock else {}
        self._property_types: dict[str, dict[str, str]] = {}
        self.calls = 0

    def __repr__(self) -> str:  # never the token
        return f"HubSpotCRM(base_url={self.settings.base_url!r})"

    @classmethod
    def from_url(cls, url: str) -> HubSpotCRM:
        """`hubspot://` with options (module docs); the token from `HUBSPOT_TOKEN`."""
        settings = parse_url(url)
        return cls(settings, os.environ.get(TOKEN_ENV, ""))

    def close(self) -> None:
        self._client.close()
        self.ledger.close()

    # ------------------------------------------------------------ what the workflows read

    def prepare(self, reads: CRMReads) -> None:
        """Read only what the workflows use: these properties, histories, associations, lists."""
        self._reads = reads
        with self._cache_lock:
            self._cache.clear()

    def _properties(self, object_type: str) -> list[str]:
        if self._reads is None:
            wanted = set(DEFAULT_PROPERTIES.get(object_type, ()))
        else:
            wanted = set(self._reads.properties.get(object_type, ()))
        wanted.add(OWNER_PROPERTY)
        wanted.add("hs_object_id")
        if object_type == "contact":
            wanted.add("email")
        return sorted(wanted)

    def _types(self, object_type: str) -> Mapping[str, str]:
        """The portal's property types (`number`, `date`, `datetime`, `bool`, …) of an
        object type, read once (properties API)."""
        found = self._property_types.get(object_type)
        if found is None:
            answer = self._call("GET", f"/crm/v3/properties/{api_name(object_type)}", missing_ok=True)
            found = {
                str(item["name"]): str(item.get("type", "string"))
                for item in (answer or {}).get("results", [])
                if isinstance(item, Mapping) and "name" in item
            }
            self._property_types[object_type] = found
        return found

    def _value(self, object_type: str, prop: str, value: Any) -> Any:
        """A value as HubSpot sent it, in wfdsl's form for its property type."""
        return hubspot_value(value, self._types(object_type).get(prop, "string"))

    def _history_properties(self, object_type: str) -> list[str]:
        if self._reads is None:
            return []
        return sorted(p for o, p in self._reads.history if o == object_type)

    def _association_types(self, object_type: str) -> list[str]:
        if self._reads is None:
            return [t for t in DEFAULT_ASSOCIATIONS if t != object_type]
        return sorted(t for t in self._reads.associations.get(object_type, ()) if t != object_type)

    def _wants_lists(self) -> bool:
        return self._reads is None or self._reads.lists

    # ------------------------------------------------------------ HTTP

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        search: bool = False,
        missing_ok: bool = False,
        url: str | None = None,
    ) -> Any:
        """One API call: rate limited, errors typed, the JSON answer (None for 404 when allowed)."""
        httpx = _httpx()
        self.limiter.acquire(search=search)
        self.calls += 1
        try:
            response = self._client.request(method, url or path, json=body, params=params)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise TransientAdapterError(f"cannot reach HubSpot ({type(error).__name__}) for {method} {path}") from None
        except httpx.TimeoutException:
            raise UncertainOutcome(f"HubSpot did not answer {method} {path} in {self.settings.timeout:g} s") from None
        except httpx.TransportError as error:
            raise UncertainOutcome(
                f"the connection to HubSpot broke during {method} {path} ({type(error).__name__})"
            ) from None
        self.limiter.observe(response.headers)
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status == 429:
            retry = _retry_after(response.headers.get("retry-after"))
            self.limiter.penalise(retry if retry is not None else self.settings.interval)
            raise TransientAdapterError(
                f"HubSpot rate limit reached ({_message(response)}) on {method} {path}",
                retry_after=retry if retry is not None else self.settings.interval,
            )
        if status >= 500:
            raise TransientAdapterError(
                f"HubSpot answered {status} to {method} {path}: {_message(response)}",
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        if status in (401, 403):
            raise PermanentAdapterError(
                f"HubSpot refused the request ({status}) to {method} {path}: {_message(response)}; "
                f"check {TOKEN_ENV} and the app's scopes"
            )
        if status >= 400:
            raise PermanentAdapterError(f"HubSpot answered {status} to {method} {path}: {_message(response)}")
        if status == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise TransientAdapterError(f"HubSpot answered {method} {path} with a body that is not JSON") from None

    # ------------------------------------------------------------ reads

    def _cached(self, key: tuple[str, str]) -> Record | None:
        with self._cache_lock:
            found = self._cache.get(key)
            if found is None:
                return None
            stamp, record = found
            if time.monotonic() - stamp > self.settings.cache_seconds:
                del self._cache[key]
                return None
            return record

    def _remember(self, record: Record) -> None:
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[(record.object, record.id)] = (time.monotonic(), record)

    def forget(self, object_type: str, record_id: str) -> None:
        """Drop a record from the read cache (it changed)."""
        with self._cache_lock:
            self._cache.pop((object_type, record_id), None)

    def get(self, object_type: str, record_id: str) -> Record | None:
        key = (object_type, record_id)
        cached = self._cached(key)
        if cached is not None:
            return cached
        records = self._load(object_type, [record_id])
        return records.get(record_id)

    def _load(self, object_type: str, ids: Sequence[str], extra: Sequence[str] = ()) -> dict[str, Record]:
        """Batch read `ids` (with the `extra` properties too) with their associations
        and lists into the cache."""
        if not ids:
            return {}
        body: dict[str, Any] = {"inputs": [{"id": i} for i in ids]}
        props = sorted({*self._properties(object_type), *extra})
        if props:
            body["properties"] = props
        history = self._history_properties(object_type)
        if history:
            body["propertiesWithHistory"] = history
        answer = self._call("POST", f"/crm/v3/objects/{api_name(object_type)}/batch/read", body=body)
        found: dict[str, dict[str, Any]] = {}
        for item in answer.get("results", []) if isinstance(answer, Mapping) else []:
            if isinstance(item, Mapping) and item.get("id") is not None and not item.get("archived"):
                raw = item.get("properties") or {}
                found[str(item["id"])] = {prop: self._value(object_type, prop, v) for prop, v in raw.items()}
        associations: dict[str, dict[str, list[str]]] = {i: {} for i in found}
        for other in self._association_types(object_type):
            for rid, linked in self._associations(object_type, other, list(found)).items():
                associations[rid][other] = linked
        out = {}
        for rid, properties in found.items():
            properties.setdefault("hs_object_id", rid)
            lists = self._lists_of(object_type, rid) if self._wants_lists() else frozenset()
            record = Record(
                object=object_type,
                id=rid,
                properties=properties,
                lists=lists,
                associations={t: tuple(ids_) for t, ids_ in associations[rid].items()},
            )
            self._remember(record)
            out[rid] = record
        return out

    def _associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """v4 batch read: the associated ids of each record, the primary one first."""
        out: dict[str, list[str]] = {}
        if not ids:
            return out
        answer = self._call(
            "POST",
            f"/crm/v4/associations/{api_name(from_type)}/{api_name(to_type)}/batch/read",
            body={"inputs": [{"id": i} for i in ids]},
        )
        for item in answer.get("results", []) if isinstance(answer, Mapping) else []:
            source = str((item.get("from") or {}).get("id", ""))
            linked: list[tuple[int, str]] = []
            for target in item.get("to") or []:
                labels = [str(t.get("label") or "") for t in target.get("associationTypes") or []]
                primary = any(label.lower() == "primary" for label in labels)
                linked.append((0 if primary else 1, str(target.get("toObjectId"))))
            out[source] = [rid for _, rid in sorted(linked, key=lambda pair: pair[0])]
        return out

    def _lists_of(self, object_type: str, record_id: str) -> frozenset[str]:
        names: set[str] = set()
        after: str | None = None
        while True:
            params = {"after": after} if after else None
            answer = self._call(
                "GET",
                f"/crm/v3/lists/records/{type_id(object_type)}/{quote(record_id, safe='')}/memberships",
                params=params,
                missing_ok=True,
            )
            if not answer:
                break
            for item in answer.get("results", []):
                list_id = str(item.get("listId"))
                names.add(self._list_name(list_id))
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return frozenset(names)

    def _list_name(self, list_id: str) -> str:
        key = ("list-name", list_id)
        if key not in self._names:
            answer = self._call("GET", f"/crm/v3/lists/{quote(list_id, safe='')}", missing_ok=True)
            name = ((answer or {}).get("list") or {}).get("name")
            self._names[key] = str(name) if name else list_id
        return self._names[key]

    def property_history(self, object_type: str, record_id: str, prop: str) -> Sequence[tuple[dt.datetime, Any]]:
        answer = self._call(
            "GET",
            f"/crm/v3/objects/{api_name(object_type)}/{quote(record_id, safe='')}",
            params={"propertiesWithHistory": prop},
            missing_ok=True,
        )
        if not answer:
            return []
        entries = (answer.get("propertiesWithHistory") or {}).get(prop) or []
        history = [
            (_moment(e.get("timestamp")), self._value(object_type, prop, e.get("value")))
            for e in entries
            if isinstance(e, Mapping)
        ]
        history.sort(key=lambda pair: pair[0])  # HubSpot lists the newest first
        return history

    def event_history(
        self, object_type: str, record_id: str, event_type: str
    ) -> Sequence[tuple[dt.datetime, Mapping[str, Any]]]:
        return self.ledger.events(object_type, record_id, event_type)

    def query(self, object_type: str, criteria: Mapping[str, Any] | None = None) -> Iterator[str]:
        """Search with the criteria pushed down, sorted by id and paged by id (so past
        the search API's 10,000-result window); each page batch-read into the cache."""
        groups = search_filters(criteria, object_type) or [[]]
        last: str | None = None
        while True:
            filter_groups = []
            for group in groups:
                extra = [{"propertyName": "hs_object_id", "operator": "GT", "value": last}] if last else []
                if group or extra:
                    filter_groups.append({"filters": [*group, *extra]})
            body: dict[str, Any] = {
                "limit": SEARCH_PAGE,
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": ["hs_object_id"],
            }
            if filter_groups:
                body["filterGroups"] = filter_groups
            answer = self._call("POST", f"/crm/v3/objects/{api_name(object_type)}/search", body=body, search=True)
            ids = [str(item["id"]) for item in answer.get("results", []) if isinstance(item, Mapping) and "id" in item]
            if not ids:
                return
            for start in range(0, len(ids), BATCH):
                self._load(object_type, ids[start : start + BATCH])
            yield from ids
            if len(ids) < SEARCH_PAGE:
                return
            last = ids[-1]

    # ------------------------------------------------------------ events from outside

    def observe(self, event: Event) -> Sequence[Event]:
        """Changes HubSpot reported (webhooks, `record.updated` lines) become
        `property.changed` with the previous value from the property's history;
        echoes of the adapter's own writes are dropped; other events are kept
        in the event history."""
        if event.type in ("record.updated", "record.created", "list.added", "list.removed"):
            self.forget(event.object, event.id)  # the record changed: read it afresh
        if event.type == "record.updated":
            out = []
            for prop, raw in (event.properties or {}).items():
                value = self._value(event.object, prop, raw)
                if self.ledger.take_own_write(event.object, event.id, prop, to_hubspot(value)):
                    continue
                out.append(
                    Event(
                        type="property.changed",
                        object=event.object,
                        id=event.id,
                        at=event.at,
                        data={"property": prop, "value": value, "previous": self._previous(event, prop, value)},
                        cause=event.cause,
                    )
                )
            return out
        if event.type == "record.created":
            if self.ledger.take_own_write(event.object, event.id, "", "created"):
                return []
            created = Event(
                type="record.created",
                object=event.object,
                id=event.id,
                at=event.at,
                data=dict(event.data),
                cause=event.cause,
            )
            self.ledger.add_event(created)
            return [created]
        self.ledger.add_event(event)
        return [event]

    def _previous(self, event: Event, prop: str, value: Any) -> Any:
        """The value before the one the event reports, from HubSpot's history."""
        history = self.property_history(event.object, event.id, prop)
        shown = to_hubspot(value)
        for index in range(len(history) - 1, -1, -1):
            if to_hubspot(history[index][1]) == shown and history[index][0] <= utc(event.at) + dt.timedelta(seconds=1):
                return history[index - 1][1] if index > 0 else None
        return history[-2][1] if len(history) > 1 else None

    # ------------------------------------------------------------ actions

    def perform(self, action: Action, idempotency_key: str) -> ActionResult:
        entry = self.ledger.entry(idempotency_key)
        if entry is not None and entry[0] == "done":
            return _result_in(entry[1] or {})
        if entry is not None and entry[0] == "uncertain" and action.kind not in REPEATABLE:
            raise PermanentAdapterError(
                f"{action.kind} for {action.object}:{action.id} may already have been performed "
                "(an earlier request got no answer); not repeated so that it does not happen twice"
            )
        progress = entry[1] if entry is not None and isinstance(entry[1], Mapping) else {}
        if entry is None:
            self.ledger.start(idempotency_key, action)
        try:
            result = self._perform(action, idempotency_key, dict(progress))
        except UncertainOutcome as error:
            if action.kind in REPEATABLE:
                raise
            self.ledger.mark(idempotency_key, "uncertain")
            raise PermanentAdapterError(
                f"{error}; it may have been performed, so it is not repeated (check HubSpot)"
            ) from None
        self.ledger.finish(idempotency_key, _result_out(result))
        return result

    def _target(self, action: Action) -> tuple[str, str]:
        object_type = str(action.args.get("object", action.object))
        if object_type == action.object:
            return (action.object, action.id)
        record = self.get(action.object, action.id)
        ids = () if record is None else record.associations.get(object_type, ())
        if not ids:
            ids = tuple(self._associations(action.object, object_type, [action.id]).get(action.id, []))
        if not ids:
            raise PermanentAdapterError(f"{action.object}:{action.id} has no associated {object_type} to update")
        return (object_type, ids[0])

    def _update(
        self, target: tuple[str, str], changes: Mapping[str, Any], action: Action, cause: str | None
    ) -> list[Event]:
        before = self._load(target[0], [target[1]], extra=list(changes)).get(target[1])
        if before is None:
            raise PermanentAdapterError(f"{target[0]}:{target[1]} does not exist in HubSpot")
        body = {"properties": {prop: to_hubspot(value) for prop, value in changes.items()}}
        # Noted before the call, so that HubSpot's echo is known even if this process
        # dies right after it; taken back if HubSpot refused the change.
        for prop, value in body["properties"].items():
            self.ledger.own_write(target[0], target[1], prop, value, action.at)
        try:
            self._call("PATCH", f"/crm/v3/objects/{api_name(target[0])}/{quote(target[1], safe='')}", body=body)
        except UncertainOutcome:
            raise
        except Exception:
            for prop, value in body["properties"].items():
                self.ledger.take_own_write(target[0], target[1], prop, value)
            raise
        self.forget(*target)
        events = []
        for prop, value in changes.items():
            previous = before.properties.get(prop)
            if to_hubspot(previous) == to_hubspot(value):
                continue
            events.append(
                Event(
                    type="property.changed",
                    object=target[0],
                    id=target[1],
                    at=action.at,
                    data={"property": prop, "value": None if value == "" else value, "previous": previous},
                    cause=cause,
                )
            )
        return events

    def _owner_id(self, owner: Any) -> str:
        """An owner's id from an id or an e-mail address (owners API)."""
        text = str(owner or "").strip()
        if not text:
            raise PermanentAdapterError("no owner given")
        if text.isdigit():
            return text
        key = ("owner", text.lower())
        if key not in self._names:
            answer = self._call("GET", "/crm/v3/owners/", params={"email": text, "limit": 1})
            results = answer.get("results") or []
            if not results:
                raise PermanentAdapterError(f"HubSpot has no owner with the e-mail {text}")
            self._names[key] = str(results[0].get("id"))
        return self._names[key]

    def _list_id(self, name: str, object_type: str) -> str:
        key = ("list", f"{object_type}:{name}")
        if key not in self._names:
            known = [i for (kind, i), n in self._names.items() if kind == "list-name" and n == name]
            if known:
                self._names[key] = known[0]
            elif name.isdigit():
                self._names[key] = name
            else:
                answer = self._call(
                    "GET",
                    f"/crm/v3/lists/object-type-id/{type_id(object_type)}/name/{quote(name, safe='')}",
                    missing_ok=True,
                )
                found = ((answer or {}).get("list") or {}).get("listId")
                if found is None:
                    raise PermanentAdapterError(f"HubSpot has no {object_type} list named {name!r}")
                self._names[key] = str(found)
        return self._names[key]

    def _email_id(self, name: str) -> str:
        if name.isdigit():
            return name
        key = ("email", name)
        if key not in self._names:
            after: str | None = None
            while key not in self._names:
                params: dict[str, Any] = {"limit": 100, "name": name}
                if after:
                    params["after"] = after
                answer = self._call("GET", "/marketing/v3/emails", params=params)
                for item in answer.get("results") or []:
                    if str(item.get("name")) == name:
                        self._names[key] = str(item.get("id"))
                        break
                after = ((answer.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
            if key not in self._names:
                raise PermanentAdapterError(f"HubSpot has no marketing email named {name!r}")
        return self._names[key]

    def _create(
        self,
        object_type: str,
        properties: Mapping[str, Any],
        link: tuple[str, str],
        key: str,
        progress: dict[str, Any],
    ) -> str:
        """Create a record associated with `link`; a created id is kept in the ledger so
        that a retry after a failed association does not create a second record."""
        new_id = progress.get("created")
        assoc = ASSOCIATION_TYPES.get((object_type, link[0]))
        if new_id is None:
            body: dict[str, Any] = {"properties": {p: to_hubspot(v) for p, v in properties.items()}}
            if assoc is not None:
                body["associations"] = [
                    {
                        "to": {"id": link[1]},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": assoc}],
                    }
                ]
            answer = self._call("POST", f"/crm/v3/objects/{api_name(object_type)}", body=body)
            new_id = str(answer.get("id"))
            self.ledger.own_write(object_type, new_id, "", "created", dt.datetime.now(dt.timezone.utc))
            self.ledger.progress(key, {"created": new_id})
        if assoc is None:
            self._call(
                "PUT",
                f"/crm/v4/objects/{api_name(object_type)}/{quote(str(new_id), safe='')}"
                f"/associations/default/{api_name(link[0])}/{quote(link[1], safe='')}",
            )
        self.forget(*link)
        return str(new_id)

    def _perform(self, action: Action, key: str, progress: dict[str, Any]) -> ActionResult:
        args = action.args
        kind = action.kind
        own = (action.object, action.id)
        cause = str(args.get("_enrollment")) if args.get("_enrollment") else None
        if kind in ("set", "clear", "copy"):
            value = None if kind == "clear" else args.get("value")
            return ActionResult(
                events=tuple(self._update(self._target(action), {str(args["property"]): value}, action, cause))
            )
        if kind == "increment":
            target = self._target(action)
            prop = str(args["property"])
            record = self._load(target[0], [target[1]], extra=[prop]).get(target[1])
            current = None if record is None else record.properties.get(prop)
            base = as_number(current)
            if base is None and current not in (None, ""):
                raise PermanentAdapterError(f"{target[0]}.{prop} is {current!r}, not a number")
            total = float(base or 0) + float(args.get("by", 0))
            number: Any = int(total) if total.is_integer() else total
            return ActionResult(events=tuple(self._update(target, {prop: number}, action, cause)))
        if kind in ("assign_owner", "rotate_owner"):
            owner = self._owner_id(args.get("owner"))
            return ActionResult(events=tuple(self._update(own, {OWNER_PROPERTY: owner}, action, cause)))
        if kind in ("add_to_list", "remove_from_list"):
            name = str(args["list"])
            list_id = self._list_id(name, action.object)
            verb = "add" if kind == "add_to_list" else "remove"
            record = self.get(*own)
            was_member = record is not None and name in record.lists
            self._call("PUT", f"/crm/v3/lists/{quote(list_id, safe='')}/memberships/{verb}", body=[action.id])
            self.forget(*own)
            if was_member == (verb == "add"):
                return ActionResult()
            event_type = "list.added" if verb == "add" else "list.removed"
            return ActionResult(
                events=(
                    Event(
                        type=event_type,
                        object=action.object,
                        id=action.id,
                        at=action.at,
                        data={"list": name},
                        cause=cause,
                    ),
                )
            )
        if kind == "create_record":
            object_type = str(args.get("object_type") or args.get("object") or "")
            props = args.get("properties") or {}
            new_id = self._create(object_type, props if isinstance(props, Mapping) else {}, own, key, progress)
            created = Event(type="record.created", object=object_type, id=new_id, at=action.at, cause=cause)
            self.ledger.add_event(created)
            changed = [
                Event(
                    type="property.changed",
                    object=object_type,
                    id=new_id,
                    at=action.at,
                    data={"property": p, "value": v, "previous": None},
                    cause=cause,
                )
                for p, v in (props.items() if isinstance(props, Mapping) else [])
            ]
            return ActionResult(events=(created, *changed), data={"id": new_id})
        if kind == "create_task":
            return ActionResult(data={"id": self._task(action, key, progress)})
        if kind == "send_email":
            self._send_email(action, key)
            sent = email_sent(action, action.at, args, cause)
            self.ledger.add_event(sent)
            return ActionResult(events=(sent,))
        if kind == "notify":
            return ActionResult(data={"id": self._note(action, key, progress)})
        if kind == "webhook":
            self._webhook(action)
            return ActionResult()
        raise PermanentAdapterError(f"the HubSpot adapter cannot perform {kind!r}")

    def _record_owner(self, object_type: str, record_id: str) -> str | None:
        record = self.get(object_type, record_id)
        owner = None if record is None else record.properties.get(OWNER_PROPERTY)
        return str(owner) if owner not in (None, "") else None

    def _task(self, action: Action, key: str, progress: dict[str, Any]) -> str:
        args = action.args
        due = args.get("due_at") or action.at.isoformat()
        properties: dict[str, Any] = {
            "hs_task_subject": args.get("title", ""),
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "TODO",
            "hs_timestamp": str(due),
        }
        if args.get("notes"):
            properties["hs_task_body"] = args["notes"]
        if args.get("priority"):
            properties["hs_task_priority"] = str(args["priority"]).upper()
        assignee = args.get("assign_to", args.get("assignee"))
        if assignee == "owner" or args.get("assign_owner"):
            owner = self._record_owner(action.object, action.id)
            if owner:
                properties[OWNER_PROPERTY] = owner
        elif assignee:
            properties[OWNER_PROPERTY] = self._owner_id(assignee)
        return self._create("task", properties, (action.object, action.id), key, progress)

    def _note(self, action: Action, key: str, progress: dict[str, Any]) -> str:
        """`notify`: HubSpot has no API for workflow notifications, so the message becomes a
        note on the record's timeline, assigned to the recipient owner when there is one."""
        args = action.args
        recipient = args.get("recipient")
        body = f"Notification for {recipient}: {args.get('subject', '')}\n\n{args.get('body', '')}".strip()
        properties: dict[str, Any] = {"hs_note_body": body, "hs_timestamp": action.at.isoformat()}
        if recipient == "owner":
            owner = self._record_owner(action.object, action.id)
            if owner:
                properties[OWNER_PROPERTY] = owner
        elif isinstance(recipient, str) and recipient.isdigit():
            properties[OWNER_PROPERTY] = recipient
        return self._create("note", properties, (action.object, action.id), key, progress)

    def _send_email(self, action: Action, key: str) -> None:
        email_id = self._email_id(str(action.args.get("email", "")))
        record = self.get(action.object, action.id)
        to = None if record is None else record.properties.get("email")
        if not to:
            raise PermanentAdapterError(f"{action.object}:{action.id} has no e-mail address to send to")
        body = {
            "emailId": int(email_id),
            "message": {"to": str(to), "sendId": key},
            "contactProperties": {},
            "customProperties": {},
        }
        self._call("POST", "/marketing/v4/email/single-send", body=body)

    def _webhook(self, action: Action) -> None:
        """`webhook post URL [body …]`: sent from here, without the HubSpot token."""
        httpx = _httpx()
        url = str(action.args.get("url", ""))
        text = action.args.get("body")
        payload = (
            text
            if isinstance(text, str)
            else json.dumps({"object": action.object, "id": action.id, "at": action.at.isoformat()})
        )
        try:
            response = httpx.post(
                url,
                content=payload.encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=self.settings.timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise TransientAdapterError(f"webhook {url}: cannot connect ({type(error).__name__})") from None
        except httpx.TimeoutException:
            raise UncertainOutcome(f"webhook {url}: no answer in {self.settings.timeout:g} s") from None
        except httpx.HTTPError as error:
            raise PermanentAdapterError(f"webhook {url}: {type(error).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientAdapterError(
                f"webhook {url} answered {response.status_code}",
                retry_after=_retry_after(response.headers.get("retry-after")),
            )
        if response.status_code >= 400:
            raise PermanentAdapterError(f"webhook {url} answered {response.status_code}")

    def performed(self) -> list[dict[str, Any]]:
        """The ledger: one row per action performed, oldest first."""
        return self.ledger.performed()


def _lock_names(path: str) -> dict[tuple[str, str], str]:
    """The ids a `hubspot.lock.toml` names, as the adapter's name cache: lists (both
    ways), marketing emails and owners by name."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigurationError(f"lock {path}: cannot read: {error.strerror or error}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"lock {path}: not valid TOML: {error}") from None
    names: dict[tuple[str, str], str] = {}
    tables = {"lists": "list-name", "marketing_emails": "email", "owners": "owner"}
    for table, kind in tables.items():
        entries = data.get(table) or {}
        if not isinstance(entries, dict):
            raise ConfigurationError(f'lock {path}: [{table}] must map ids to names, e.g. "178" = "Newsletter"')
        for ident, name in entries.items():
            if kind == "list-name":
                names[("list-name", str(ident))] = str(name)
            elif kind == "owner":
                names[("owner", str(name).lower())] = str(ident)
            else:
                names[(kind, str(name))] = str(ident)
    return names


def _retry_after(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return max(0.0, float(text.strip()))
    except ValueError:
        return None


def _message(response: Any) -> str:
    """HubSpot's error message (`{"status": "error", "message": …, "category": …}`), short."""
    try:
        data = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(data, Mapping):
        text = str(data.get("message") or data.get("category") or f"HTTP {response.status_code}")
        return text[:300]
    return f"HTTP {response.status_code}"


def _result_out(result: ActionResult) -> dict[str, Any]:
    return {"events": [attrs.asdict(e, recurse=False) for e in result.events], "data": dict(result.data)}


_EVENT_FIELDS = frozenset(f.name for f in attrs.fields(Event))


def _result_in(data: Mapping[str, Any]) -> ActionResult:
    events = []
    for item in data.get("events", ()):
        fields = {k: v for k, v in item.items() if k in _EVENT_FIELDS}
        if isinstance(fields.get("at"), str):
            fields["at"] = dt.datetime.fromisoformat(fields["at"])
        events.append(Event(**fields))
    return ActionResult(events=tuple(events), data=dict(data.get("data", {})))


__all__ = [
    "ConfigurationError",
    "HubSpotCRM",
    "Ledger",
    "RateLimiter",
    "Settings",
    "UncertainOutcome",
    "hubspot_value",
    "parse_url",
    "search_filters",
    "shared_limiter",
]

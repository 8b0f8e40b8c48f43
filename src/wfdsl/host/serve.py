"""Serve: HTTP requests in (events, HubSpot webhook deliveries); rows in a store's inbox out.

What `wfdsl serve` runs (`pip install 'wfdsl-crm[serve]'`): a Starlette app,
served by uvicorn, in front of a store's inbox. `wfdsl run` workers (one
beside a SQLite store, any number with PostgreSQL) consume the inbox.

- `POST /events`: JSON (one event or an array of events) or JSON Lines in the
  events-file format, with `Authorization: Bearer <WFDSL_SERVE_TOKEN>`. Every
  event is checked first; one bad event rejects the request (400, the line or
  JSON path named) and nothing is added. An event without `at` happens when
  it is received.
- `POST /hubspot/webhooks`: HubSpot's webhook deliveries, verified with
  signature v3 (`X-HubSpot-Signature-v3`: base64 HMAC-SHA256, keyed with
  `HUBSPOT_CLIENT_SECRET`, of method + URI + body + `X-HubSpot-Request-Timestamp`;
  the URI is `public_url` + path when given, else the request's own URL) within
  a 5-minute window, translated into events (`wfdsl.adapters.hubspot_api`).
- `GET /healthz`, `GET /metrics` (Prometheus text).

A request is answered only after its events are committed to the store, so
an event that was acknowledged survives the server being killed right after.
Events carry an `event_id` (HubSpot's deliveries get one from the
notification), and the inbox drops a second event with the same id, so a
client or HubSpot retrying a delivery adds nothing twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import attrs

from wfdsl.adapters.hubspot_api import WebhookError, webhook_events
from wfdsl.host.ingest import ingest_events, read_events_text
from wfdsl.runtime.protocols import StateStore, utc
from wfdsl.stores.protocols import ActionCounts, CountingStore, EventInbox

INSTALL_HINT = "pip install 'wfdsl-crm[serve]'"
TOKEN_ENV = "WFDSL_SERVE_TOKEN"
SECRET_ENV = "HUBSPOT_CLIENT_SECRET"
#: HubSpot signs with the request time; an older (or later) one is refused.
SIGNATURE_WINDOW = dt.timedelta(minutes=5)
DEFAULT_MAX_BODY = 10 * 1024 * 1024


@attrs.frozen(kw_only=True)
class ServeConfig:
    """How the endpoint checks and limits requests."""

    token: str | None = None  # WFDSL_SERVE_TOKEN; None: POST /events is refused
    client_secret: str | None = None  # HUBSPOT_CLIENT_SECRET; None: webhooks are refused
    public_url: str | None = None  # the URL HubSpot calls, for signatures behind a proxy
    max_body: int = DEFAULT_MAX_BODY


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's signature v3 of a request (base64 HMAC-SHA256).

    >>> hubspot_signature("secret", "POST", "https://example.com/hubspot/webhooks", b"[]", "1700000000000")
    'g5+0L0NtPyAU1cDSF98Oafhe6LJg9hPdhj4eYGw35ZY='
    """
    message = method.encode("utf-8") + uri.encode("utf-8") + body + timestamp.encode("utf-8")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode("ascii")


def check_signature(
    secret: str, method: str, uri: str, body: bytes, headers: Mapping[str, str], now: dt.datetime
) -> str | None:
    """Why a webhook delivery is not HubSpot's (None when it is)."""
    signature = headers.get("x-hubspot-signature-v3")
    stamp = headers.get("x-hubspot-request-timestamp")
    if not signature or not stamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    try:
        sent = dt.datetime.fromtimestamp(int(stamp) / 1000, tz=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return "X-HubSpot-Request-Timestamp is not epoch milliseconds"
    if abs(utc(now) - sent) > SIGNATURE_WINDOW:
        return "the request timestamp is more than 5 minutes away from now"
    expected = hubspot_signature(secret, method, unquote(uri), body, stamp)
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("ascii", "replace")):
        return "the signature does not match"
    return None


@attrs.frozen
class BadRequest(Exception):
    status: int
    error: str
    line: int | None = None
    path: str | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error}
        if self.line is not None:
            out["line"] = self.line
        if self.path is not None:
            out["path"] = self.path
        return out


def parse_events_body(body: bytes, received: dt.datetime) -> list[Mapping[str, Any]]:
    """The events of a `POST /events` body, all checked: JSON (an event or an array of
    them) or JSON Lines. BadRequest naming the first bad line (or `$[i]` of an array).

    >>> received = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    >>> [e["at"] for e in parse_events_body(b'{"type": "record.created", "object": "contact", "id": "c1"}', received)]
    ['2026-01-01T00:00:00+00:00']
    """
    text = body.lstrip()
    lines: list[bytes]
    array = False
    if text.startswith(b"["):
        try:
            items = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as error:
            raise BadRequest(400, f"the body is not a JSON array of events: {error}") from None
        if not isinstance(items, list):
            raise BadRequest(400, "expected a JSON array of events")
        lines = [json.dumps(item, ensure_ascii=False).encode("utf-8") for item in items]
        array = True
    else:
        lines = body.splitlines()
    batch = read_events_text(lines, "body", received=received)
    if batch.errors:
        first = batch.errors[0]
        more = len(batch.errors) - 1
        suffix = f" (and {more} more bad event{'s' if more != 1 else ''}; nothing was added)" if more else ""
        if array:
            raise BadRequest(400, f"$[{first.line - 1}]: {first.message}{suffix}", path=f"$[{first.line - 1}]")
        raise BadRequest(400, f"line {first.line}: {first.message}{suffix}", line=first.line)
    if not batch.events:
        raise BadRequest(400, "no events in the body")
    return list(batch.events)


class Metrics:
    """The endpoint's own counters, and a collector that reads the store's counts on scrape."""

    def __init__(self, store: StateStore, lock: threading.Lock) -> None:
        from prometheus_client import CollectorRegistry, Counter

        self.registry = CollectorRegistry()
        self.received = Counter(
            "wfdsl_events_received", "Events accepted into the inbox", ["source"], registry=self.registry
        )
        self.duplicates = Counter(
            "wfdsl_events_duplicate", "Events dropped as duplicates (event_id seen)", ["source"], registry=self.registry
        )
        self.rejected = Counter(
            "wfdsl_requests_rejected", "Requests refused, by reason", ["endpoint", "status"], registry=self.registry
        )
        self.registry.register(_StoreCollector(store, lock))


class _StoreCollector:
    """Gauges read from the store at each scrape (`wfdsl run` workers write it)."""

    def __init__(self, store: StateStore, lock: threading.Lock) -> None:
        self.store = store
        self.lock = lock

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        store = self.store
        now = dt.datetime.now(dt.timezone.utc)
        with self.lock:
            names = store.workflows() if isinstance(store, CountingStore) else []
            enrolled = CounterMetricFamily("wfdsl_enrollments", "Enrollments made", labels=["workflow"])
            active = GaugeMetricFamily("wfdsl_enrollments_active", "Enrollments in progress", labels=["workflow"])
            for name in names:
                stats = store.stats(name)
                enrolled.add_metric([name], float(stats.get("enrolled", 0)))
                active.add_metric([name], float(stats.get("active", 0)))
            yield enrolled
            yield active
            if isinstance(store, CountingStore):
                due = [t for t in store.timers(limit=100_000) if t.due <= now]
                yield GaugeMetricFamily("wfdsl_timers_due", "Timers due now and not fired yet", value=len(due))
                yield GaugeMetricFamily("wfdsl_timers", "Timers waiting", value=store.count_timers())
                failures = store.count_history("failed")
                yield CounterMetricFamily("wfdsl_failures", "Failed actions (history entries)", value=failures)
            actions = CounterMetricFamily("wfdsl_actions", "Actions by kind and outcome", labels=["kind", "outcome"])
            if isinstance(store, ActionCounts):
                for (kind, outcome), count in sorted(store.action_counts().items()):
                    actions.add_metric([kind, outcome], float(count))
            yield actions
            if isinstance(store, EventInbox):
                yield GaugeMetricFamily(
                    "wfdsl_inbox_pending", "Events waiting in the inbox", value=store.pending_events()
                )
                yield GaugeMetricFamily(
                    "wfdsl_claim_latency_seconds",
                    "How long the oldest pending event has waited to be claimed by a worker",
                    value=_oldest_wait(store, now),
                )


def _oldest_wait(store: StateStore, now: dt.datetime) -> float:
    """Seconds since the oldest pending event was received (0 when none waits)."""
    if not isinstance(store, EventInbox):
        return 0.0
    with store.transaction():
        pending = store.claim_events(1)
    if not pending:
        return 0.0
    stamp = pending[0].body.get("received") or pending[0].body.get("at")
    try:
        received = utc(dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")))
    except ValueError:
        return 0.0
    return max(0.0, (now - received).total_seconds())


def create_app(
    store: StateStore,
    config: ServeConfig,
    *,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    log: Callable[[str], None] = lambda text: None,
) -> Any:
    """The Starlette application of `wfdsl serve` over an opened store."""
    from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    if not isinstance(store, EventInbox):
        raise ValueError(f"the {type(store).__name__} store has no inbox to serve")
    disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series
    lock = threading.Lock()  # one store connection: one request at a time uses it
    metrics = Metrics(store, lock)

    async def read_body(request: Request, endpoint: str) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body:
            raise BadRequest(413, f"the body is larger than {config.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > config.max_body:
                raise BadRequest(413, f"the body is larger than {config.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def commit(events: Sequence[Mapping[str, Any]], source: str) -> dict[str, Any]:
        stamp = utc(clock()).isoformat()
        bodies = [{**event, "received": stamp} for event in events]
        with lock:
            result = ingest_events(store, bodies)
        metrics.received.labels(source).inc(result.ingested)
        metrics.duplicates.labels(source).inc(result.duplicates)
        return {"ingested": result.ingested, "duplicates": result.duplicates}

    def refuse(endpoint: str, problem: BadRequest) -> Response:
        metrics.rejected.labels(endpoint, str(problem.status)).inc()
        headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 and endpoint == "/events" else None
        return JSONResponse(problem.body(), status_code=problem.status, headers=headers)

    async def events(request: Request) -> Response:
        try:
            if config.token is None:
                raise BadRequest(401, f"POST /events is closed: the server has no {TOKEN_ENV} set")
            given = request.headers.get("authorization", "")
            scheme, _, credential = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                credential.strip().encode("utf-8", "replace"), config.token.encode("utf-8")
            ):
                raise BadRequest(401, "missing or wrong bearer token")
            body = await read_body(request, "/events")
            parsed = parse_events_body(body, clock())
            answer = await run_in_threadpool(commit, parsed, "events")
        except BadRequest as problem:
            return refuse("/events", problem)
        return JSONResponse(answer)

    async def webhooks(request: Request) -> Response:
        try:
            if config.client_secret is None:
                raise BadRequest(401, f"webhooks are closed: the server has no {SECRET_ENV} set")
            body = await read_body(request, "/hubspot/webhooks")
            uri = str(request.url)
            if config.public_url:
                uri = config.public_url.rstrip("/") + request.url.path
                if request.url.query:
                    uri += "?" + request.url.query
            problem = check_signature(config.client_secret, request.method, uri, body, request.headers, clock())
            if problem is not None:
                raise BadRequest(401, f"not a delivery from HubSpot: {problem}")
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as error:
                raise BadRequest(400, f"the body is not JSON: {error}") from None
            try:
                found, ignored = webhook_events(payload)
            except WebhookError as error:
                raise BadRequest(400, str(error), path=error.where) from None
            answer = await run_in_threadpool(commit, found, "hubspot") if found else {"ingested": 0, "duplicates": 0}
        except BadRequest as problem:
            return refuse("/hubspot/webhooks", problem)
        return JSONResponse({**answer, "ignored": len(ignored)})

    def health() -> dict[str, Any]:
        with lock:
            assert isinstance(store, EventInbox)
            return {"status": "ok", "pending": store.pending_events()}

    async def healthz(request: Request) -> Response:
        try:
            answer = await run_in_threadpool(health)
        except Exception as error:  # the store cannot be read: not healthy
            return JSONResponse({"status": "error", "error": f"{type(error).__name__}: {error}"}, status_code=503)
        return JSONResponse(answer)

    async def metrics_text(request: Request) -> Response:
        text = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/events", events, methods=["POST"]),
            Route("/hubspot/webhooks", webhooks, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_text, methods=["GET"]),
        ]
    )


def serve(app: Any, host: str, port: int, *, log: Callable[[str], None]) -> None:
    """Run the app with uvicorn on host:port (port 0: a free one) until SIGTERM/SIGINT;
    requests in progress finish first."""
    import signal
    import socket

    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening before saying so: a client that connects on the word must not find
    # the port bound but closed (uvicorn calls listen again, which is harmless).
    sock.listen(2048)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, host=host, port=bound, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    log(f"wfdsl serve: listening on http://{shown}:{bound}")
    started = time.monotonic()
    # uvicorn stops on SIGTERM/SIGINT, then raises the signal again for the handlers it
    # found: these swallow it, so a stop requested by a signal exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    server.run(sockets=[sock])
    log(f"wfdsl serve: stopped after {time.monotonic() - started:.0f} s")


__all__ = [
    "DEFAULT_MAX_BODY",
    "INSTALL_HINT",
    "BadRequest",
    "ServeConfig",
    "check_signature",
    "create_app",
    "hubspot_signature",
    "parse_events_body",
    "serve",
]

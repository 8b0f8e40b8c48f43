"""`wfdsl serve`: a real server process on 127.0.0.1, a real HTTP client, a real store."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from hubspot_fake import TOKEN, FakeHubSpot
from wfdsl.cli import cli
from wfdsl.host.registry import open_store
from wfdsl.host.serve import check_signature, hubspot_signature
from wfdsl.stores.protocols import Closable, EventInbox

SERVE_TOKEN = "serve-token-123"
SECRET = "client-secret-abc"
WFDSL = [sys.executable, "-m", "wfdsl"]


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str, store: str) -> None:
        self.process = process
        self.url = url
        self.store = store  # the store's URL

    def pending(self) -> int:
        store = open_store(self.store)
        try:
            assert isinstance(store, EventInbox)
            return store.pending_events()
        finally:
            if isinstance(store, Closable):
                store.close()


def start_server(tmp: Path, *extra: str, env: dict[str, str] | None = None, store: str | None = None) -> Server:
    store = store or f"sqlite:///{tmp / 'state.db'}"
    environ = {**os.environ, "WFDSL_SERVE_TOKEN": SERVE_TOKEN, "HUBSPOT_CLIENT_SECRET": SECRET, **(env or {})}
    process = subprocess.Popen(
        [*WFDSL, "serve", "--store", store, "--listen", "127.0.0.1:0", *extra],
        stderr=subprocess.PIPE,
        env=environ,
        cwd=tmp,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while True:
        line = process.stderr.readline().decode()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return Server(process, found.group(1), store)
        if not line and process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"wfdsl serve did not start: {line}")


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve"))
    yield running
    assert stop(running) == 0


def auth(token: str = SERVE_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(
    url: str, body: bytes, *, secret: str = SECRET, stamp: int | None = None, uri: str | None = None
) -> dict[str, str]:
    when = str(stamp if stamp is not None else int(time.time() * 1000))
    signature = hubspot_signature(secret, "POST", uri or url, body, when)
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": when,
    }


def test_events_as_json_lines_and_json(server: Server) -> None:
    before = server.pending()
    lines = (
        b'{"type": "record.created", "object": "contact", "id": "c1", "properties": {"email": "a@x.com"}}\n'
        b"\n"
        b'{"at": "2026-03-02T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1", '
        b'"data": {"form": "Demo"}, "event_id": "f-1"}\n'
    )
    answer = httpx.post(f"{server.url}/events", content=lines, headers=auth())
    assert answer.status_code == 200 and answer.json() == {"ingested": 2, "duplicates": 0}
    again = httpx.post(f"{server.url}/events", json=[json.loads(lines.splitlines()[2])], headers=auth())
    assert again.json() == {"ingested": 0, "duplicates": 1}
    one = httpx.post(
        f"{server.url}/events",
        json={"type": "list.added", "object": "contact", "id": "c1", "data": {"list": "VIP"}},
        headers=auth(),
    )
    assert one.json() == {"ingested": 1, "duplicates": 0}
    # Answered means committed: the store holds them.
    assert server.pending() == before + 3


def test_bad_events_are_refused_whole_naming_the_line(server: Server) -> None:
    before = server.pending()
    body = b'{"type": "record.created", "object": "contact", "id": "c2"}\n{"type": "record.created", "id": "c3"}\n'
    answer = httpx.post(f"{server.url}/events", content=body, headers=auth())
    assert answer.status_code == 400
    assert answer.json() == {"error": "line 2: missing field `object`", "line": 2}
    array = httpx.post(
        f"{server.url}/events",
        json=[{"type": "record.created", "object": "contact", "id": "c2"}, {"type": "nope"}],
        headers=auth(),
    )
    assert array.status_code == 400 and array.json()["path"] == "$[1]"
    broken = httpx.post(f"{server.url}/events", content=b"{not json", headers=auth())
    assert broken.status_code == 400 and broken.json()["line"] == 1
    assert server.pending() == before


def test_events_need_the_bearer_token(server: Server) -> None:
    event = {"type": "record.created", "object": "contact", "id": "c9"}
    assert httpx.post(f"{server.url}/events", json=event).status_code == 401
    wrong = httpx.post(f"{server.url}/events", json=event, headers=auth("nope"))
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"


def test_hubspot_webhooks_are_verified_and_translated(server: Server) -> None:
    url = f"{server.url}/hubspot/webhooks"
    delivery = [
        {
            "subscriptionType": "contact.propertyChange",
            "objectId": 51,
            "eventId": 900,
            "portalId": 62515,
            "occurredAt": int(time.time() * 1000),
            "propertyName": "lifecyclestage",
            "propertyValue": "lead",
            "attemptNumber": 0,
        },
        {
            "subscriptionType": "contact.deletion",
            "objectId": 52,
            "eventId": 901,
            "portalId": 62515,
            "occurredAt": int(time.time() * 1000),
        },
    ]
    body = json.dumps(delivery).encode()
    before = server.pending()
    answer = httpx.post(url, content=body, headers=signed(url, body))
    assert answer.status_code == 200 and answer.json() == {"ingested": 1, "duplicates": 0, "ignored": 1}
    # HubSpot delivers again (attemptNumber 1): nothing is added twice.
    retried = httpx.post(url, content=body, headers=signed(url, body))
    assert retried.json() == {"ingested": 0, "duplicates": 1, "ignored": 1}
    assert server.pending() == before + 1
    wrong = httpx.post(url, content=body, headers=signed(url, body, secret="other"))
    assert wrong.status_code == 401 and "signature does not match" in wrong.json()["error"]
    old = httpx.post(url, content=body, headers=signed(url, body, stamp=int(time.time() * 1000) - 6 * 60 * 1000))
    assert old.status_code == 401 and "5 minutes" in old.json()["error"]
    tampered = httpx.post(url, content=body.replace(b"lead", b"customer"), headers=signed(url, body))
    assert tampered.status_code == 401
    assert httpx.post(url, content=body).status_code == 401
    bad = b'[{"subscriptionType": "contact.creation", "objectId": 1}]'
    refused = httpx.post(url, content=bad, headers=signed(url, bad))
    assert refused.status_code == 400 and refused.json()["path"] == "$[0].occurredAt"
    assert server.pending() == before + 1


def test_health_and_metrics(server: Server) -> None:
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    text = httpx.get(f"{server.url}/metrics").text
    assert re.search(r'^wfdsl_events_received_total\{source="events"\} [1-9]', text, re.M)
    assert re.search(r"^wfdsl_inbox_pending [1-9]", text, re.M)
    assert "wfdsl_claim_latency_seconds" in text and "wfdsl_timers_due" in text
    assert re.search(r'^wfdsl_requests_rejected_total\{endpoint="/events",status="401"\}', text, re.M)


def test_public_url_oversized_bodies_and_a_kill_after_the_answer(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--max-body", "2000", "--public-url", "https://hooks.example.com")
    try:
        big = b'{"type": "record.created", "object": "contact", "id": "c1"}\n' * 100
        too_big = httpx.post(f"{server.url}/events", content=big, headers=auth())
        assert too_big.status_code == 413
        body = json.dumps(
            [
                {
                    "subscriptionType": "contact.creation",
                    "objectId": 7,
                    "eventId": 1,
                    "portalId": 1,
                    "occurredAt": int(time.time() * 1000),
                }
            ]
        ).encode()
        # Behind a proxy HubSpot signs the public URL, not the one the server sees.
        url = f"{server.url}/hubspot/webhooks"
        public = "https://hooks.example.com/hubspot/webhooks"
        assert httpx.post(url, content=body, headers=signed(url, body)).status_code == 401
        assert httpx.post(url, content=body, headers=signed(url, body, uri=public)).status_code == 200
        answer = httpx.post(
            f"{server.url}/events", json={"type": "record.created", "object": "contact", "id": "k1"}, headers=auth()
        )
        assert answer.status_code == 200
    finally:
        server.process.kill()  # SIGKILL right after the answers
        server.process.wait(timeout=10)
    assert server.pending() == 2  # both acknowledged events survived


def test_signature_helper_matches_the_documented_recipe() -> None:
    import base64
    import hashlib
    import hmac

    body = b'[{"eventId":1}]'
    expected = base64.b64encode(
        hmac.new(b"s", b"POSThttps://x.example/hubspot/webhooks" + body + b"1700000000000", hashlib.sha256).digest()
    ).decode()
    assert hubspot_signature("s", "POST", "https://x.example/hubspot/webhooks", body, "1700000000000") == expected
    headers = {"x-hubspot-signature-v3": expected, "x-hubspot-request-timestamp": "1700000000000"}
    at = dt.datetime(2023, 11, 14, 22, 15, tzinfo=dt.timezone.utc)
    assert check_signature("s", "POST", "https://x.example/hubspot/webhooks", body, headers, at) is None
    # URL-encoded characters in the URI are decoded before signing.
    encoded = "https://x.example/hubspot/webhooks?a=%20b"
    headers["x-hubspot-signature-v3"] = hubspot_signature(
        "s", "POST", "https://x.example/hubspot/webhooks?a= b", body, "1700000000000"
    )
    assert check_signature("s", "POST", encoded, body, headers, at) is None


def test_usage_errors_and_the_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    bad = runner.invoke(cli, ["serve", "--store", "sqlite:///s.db", "--listen", "localhost"])
    assert bad.exit_code == 2 and "expected HOST:PORT" in bad.output
    memory = runner.invoke(cli, ["serve", "--store", "memory://"])
    assert memory.exit_code == 2 and "keeps nothing" in memory.output
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    missing = runner.invoke(cli, ["serve", "--store", "sqlite:///s.db"])
    assert missing.exit_code == 2
    assert "pip install 'wfdsl-crm[serve]'" in missing.output and "uvicorn" in missing.output


# ---------------------------------------------------------------- end to end

WORKFLOW = """\
workflow "Lead welcome" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  steps {
    send email "Welcome #1"
  }
}
"""


def test_a_webhook_enrolls_a_contact_and_the_email_goes_out_once(tmp_path: Path) -> None:
    """HubSpot says a contact became a lead; `serve` takes the delivery, `run` enrolls the
    contact and sends the email through the API, which refuses the first attempt."""
    fake = FakeHubSpot()
    fake.start()
    run: subprocess.Popen[bytes] | None = None
    server = start_server(tmp_path)
    try:
        fake.add("contacts", "51", {"email": "ann@example.com", "lifecyclestage": "subscriber"})
        fake.emails.append({"id": "4401", "name": "Welcome #1"})
        fake.fail("/marketing/v4/email/single-send", 429, retry_after="1")
        (tmp_path / "welcome.wf").write_text(WORKFLOW, encoding="utf-8")
        crm = f"hubspot://?base_url={fake.url}&ledger={tmp_path / 'hubspot.db'}"
        env = {**os.environ, "HUBSPOT_TOKEN": TOKEN}
        run = subprocess.Popen(
            [*WFDSL, "run", "welcome.wf", "--store", server.store, "--crm", crm, "--status-every", "0"],
            cwd=tmp_path,
            env=env,
            stderr=subprocess.PIPE,
        )
        # The contact becomes a lead in HubSpot, which sends the webhook.
        changed = dt.datetime.now(dt.timezone.utc)
        fake.change("contacts", "51", "lifecyclestage", "lead", changed)
        url = f"{server.url}/hubspot/webhooks"
        body = json.dumps(
            [
                {
                    "subscriptionType": "contact.propertyChange",
                    "objectId": 51,
                    "eventId": 3001,
                    "portalId": 62515,
                    "occurredAt": int(changed.timestamp() * 1000),
                    "propertyName": "lifecyclestage",
                    "propertyValue": "lead",
                    "changeSource": "CRM_UI",
                }
            ]
        ).encode()
        assert httpx.post(url, content=body, headers=signed(url, body)).json()["ingested"] == 1
        deadline = time.monotonic() + 60
        while not fake.sends and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)  # time for a second send, if one were (wrongly) coming
        assert [s["message"]["to"] for s in fake.sends] == ["ann@example.com"]
        attempts = fake.asked("POST", "/marketing/v4/email/single-send")
        assert len(attempts) == 2  # the refused one, then the one that went out
    finally:
        if run is not None:
            run.send_signal(signal.SIGTERM)
            code = run.wait(timeout=30)
            errors = run.stderr.read().decode() if run.stderr else ""
        stop(server)
        fake.stop()
    assert code == 0, errors
    status = subprocess.run(
        [*WFDSL, "status", "--store", server.store, "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    report = json.loads(status.stdout)
    (workflow,) = report["workflows"]
    assert workflow["name"] == "Lead welcome"
    assert workflow["stats"]["enrolled"] == 1 and workflow["stats"]["emailed"] == 1
    text = subprocess.run([*WFDSL, "status", "--store", server.store], cwd=tmp_path, capture_output=True, check=True)
    assert "Lead welcome" in text.stdout.decode()


def test_serve_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The same endpoint in front of a PostgreSQL store (which many workers share)."""
    server = start_server(tmp_path, store=pg_url)
    try:
        lines = b"".join(
            b'{"type": "record.created", "object": "contact", "id": "p%d", "event_id": "pg-%d"}\n' % (n, n)
            for n in range(50)
        )
        answer = httpx.post(f"{server.url}/events", content=lines, headers=auth())
        assert answer.json() == {"ingested": 50, "duplicates": 0}
        again = httpx.post(f"{server.url}/events", content=lines, headers=auth())
        assert again.json() == {"ingested": 0, "duplicates": 50}
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok", "pending": 50}
        text = httpx.get(f"{server.url}/metrics").text
        assert re.search(r"^wfdsl_inbox_pending 50", text, re.M)
    finally:
        assert stop(server) == 0
    assert server.pending() == 50

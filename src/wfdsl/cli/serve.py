"""`wfdsl serve`: an HTTP endpoint that puts events and HubSpot webhook deliveries in a store's inbox."""

from __future__ import annotations

import os
import sys

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.host.registry import ConfigError, open_store
from wfdsl.stores.protocols import Closable, EventInbox


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        fail(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080 (port 0: any free port)")
    return host, int(port)


@click.command("serve")
@click.option("--store", "store_url", required=True, metavar="URL", help="The store whose inbox events go to.")
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on (port 0: any free port, printed at start).",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The URL HubSpot calls (e.g. https://hooks.example.com), when a proxy stands in front: "
    "webhook signatures are checked against it plus the path.",
)
@click.option(
    "--max-body",
    type=click.IntRange(1),
    default=10 * 1024 * 1024,
    show_default=True,
    metavar="BYTES",
    help="Largest request body accepted (larger: 413).",
)
def serve(store_url: str, listen: str, public_url: str | None, max_body: int) -> None:
    """Accept events over HTTP and put them in the store's inbox, for `wfdsl run` to apply.

    POST /events takes JSON or JSON Lines events with `Authorization: Bearer` and the
    token in WFDSL_SERVE_TOKEN; POST /hubspot/webhooks takes HubSpot's webhook
    deliveries, signed with HUBSPOT_CLIENT_SECRET; GET /healthz and GET /metrics
    (Prometheus) report. A request is answered once its events are committed.
    Needs the `serve` extra: pip install 'wfdsl-crm[serve]'.

    SIGTERM or SIGINT finish the requests in progress and exit 0.
    """
    try:
        from wfdsl.host.serve import ServeConfig, create_app
        from wfdsl.host.serve import serve as run_server
    except ImportError as error:  # pragma: no cover - the message is tested by hiding a module
        fail(f"wfdsl serve needs: pip install 'wfdsl-crm[serve]' ({error.name or error} is not installed)")
    try:
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:
        fail(f"wfdsl serve needs: pip install 'wfdsl-crm[serve]' ({error.name or error} is not installed)")
    host, port = _listen(listen)
    if store_url.split("://", 1)[0].lower() == "memory":
        fail("memory:// keeps nothing after the server ends: serve a sqlite:// or postgresql:// store")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        fail(f"--public-url {public_url!r}: expected an http:// or https:// URL")
    try:
        store = open_store(store_url)
    except ConfigError as error:
        fail(str(error))
    if not isinstance(store, EventInbox):
        fail(f"{store_url}: the {type(store).__name__} store has no inbox to serve")
    token = os.environ.get("WFDSL_SERVE_TOKEN") or None
    secret = os.environ.get("HUBSPOT_CLIENT_SECRET") or None
    if token is None:
        click.echo("wfdsl serve: warning: WFDSL_SERVE_TOKEN is not set: POST /events answers 401", err=True)
    if secret is None:
        click.echo(
            "wfdsl serve: warning: HUBSPOT_CLIENT_SECRET is not set: POST /hubspot/webhooks answers 401", err=True
        )
    config = ServeConfig(token=token, client_secret=secret, public_url=public_url, max_body=max_body)
    app = create_app(store, config)
    try:
        run_server(app, host, port, log=lambda text: click.echo(text, err=True))
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    finally:
        if isinstance(store, Closable):
            store.close()
    sys.exit(int(Exit.OK))

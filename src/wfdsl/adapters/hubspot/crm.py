"""`HubSpotCRM`: the `CRMAdapter` of a HubSpot portal, put together from the HTTP
client (`client.py`), the local ledger (`ledger.py`), the reads (`reads.py`) and
the actions (`actions.py`)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wfdsl.adapters.hubspot.actions import Actions
from wfdsl.adapters.hubspot.client import Client, RateLimiter, httpx_module
from wfdsl.adapters.hubspot.config import TOKEN_ENV, ConfigurationError, Settings, lock_names, parse_url
from wfdsl.adapters.hubspot.ledger import Ledger
from wfdsl.adapters.hubspot.reads import Reader
from wfdsl.plan.criteria import Criterion
from wfdsl.runtime.protocols import Action, ActionResult, CRMReads, Event, Record
from wfdsl.stores.errors import StoreError

if TYPE_CHECKING:
    import httpx


class HubSpotCRM:
    """A `CRMAdapter` over a HubSpot portal's API (see the package docs)."""

    def __init__(self, settings: Settings, token: str, *, client: httpx.Client | None = None) -> None:
        httpx_module()  # the missing extra is named before a missing token
        if not token:
            raise ConfigurationError(f"set {TOKEN_ENV} to the private app's access token")
        self.settings = settings
        self.api = Client(settings, token, client=client)
        try:
            self.ledger = Ledger(settings.ledger)
        except StoreError as error:
            raise ConfigurationError(str(error)) from error
        names = lock_names(settings.lock) if settings.lock else {}
        self.reader = Reader(self.api, self.ledger, names, cache_seconds=settings.cache_seconds)
        self.actions = Actions(self.api, self.ledger, self.reader, names, timeout=settings.timeout)

    def __repr__(self) -> str:  # never the token
        return f"HubSpotCRM(base_url={self.settings.base_url!r})"

    @classmethod
    def from_url(cls, url: str) -> HubSpotCRM:
        """`hubspot://` with options (package docs); the token from `HUBSPOT_TOKEN`."""
        settings = parse_url(url)
        return cls(settings, os.environ.get(TOKEN_ENV, ""))

    @property
    def limiter(self) -> RateLimiter:
        return self.api.limiter

    @property
    def calls(self) -> int:
        """API calls made so far (for tests and metrics)."""
        return self.api.calls

    def close(self) -> None:
        self.api.close()
        self.ledger.close()

    def prepare(self, reads: CRMReads) -> None:
        """Read only what the workflows use: these properties, histories, associations, lists."""
        self.reader.prepare(reads)

    def get(self, object_type: str, record_id: str) -> Record | None:
        return self.reader.get(object_type, record_id)

    def forget(self, object_type: str, record_id: str) -> None:
        """Drop a record from the read cache (it changed)."""
        self.reader.forget(object_type, record_id)

    def property_history(self, object_type: str, record_id: str, prop: str) -> Sequence[tuple[dt.datetime, Any]]:
        return self.reader.property_history(object_type, record_id, prop)

    def event_history(
        self, object_type: str, record_id: str, event_type: str
    ) -> Sequence[tuple[dt.datetime, Mapping[str, Any]]]:
        return self.reader.event_history(object_type, record_id, event_type)

    def query(self, object_type: str, criteria: Criterion | None = None) -> Iterator[str]:
        """Search with the criteria pushed down, sorted by id and paged by id (so past
        the search API's 10,000-result window); each page batch-read into the cache."""
        return self.reader.query(object_type, criteria)

    def observe(self, event: Event) -> Sequence[Event]:
        """Changes HubSpot reported (webhooks, `record.updated` lines) become
        `property.changed` with the previous value from the property's history;
        echoes of the adapter's own writes are dropped; other events are kept
        in the event history."""
        return self.reader.observe(event)

    def perform(self, action: Action, idempotency_key: str) -> ActionResult:
        return self.actions.perform(action, idempotency_key)

    def performed(self) -> list[dict[str, Any]]:
        """The ledger: one row per action performed, oldest first."""
        return self.ledger.performed()


__all__ = ["HubSpotCRM"]

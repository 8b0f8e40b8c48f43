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

The package, one job per module: `config.py` (the URL, the lock file's
names), `client.py` (HTTP and rate limits), `ledger.py` (the local journal),
`search.py` (criteria pushed down to the search API), `reads.py` (records,
histories, searches, reported changes), `actions.py` (the workflows'
actions) and `crm.py` (`HubSpotCRM`, which puts them together).
"""

from __future__ import annotations

from wfdsl.adapters.hubspot.client import _LIMITERS as _LIMITERS  # the process's limiters (tests reset them)
from wfdsl.adapters.hubspot.client import RateLimiter, UncertainOutcome, shared_limiter
from wfdsl.adapters.hubspot.config import ConfigurationError, Settings, parse_url
from wfdsl.adapters.hubspot.crm import HubSpotCRM
from wfdsl.adapters.hubspot.ledger import Ledger
from wfdsl.adapters.hubspot.search import search_filters
from wfdsl.adapters.hubspot_api import to_hubspot
from wfdsl.runtime.values import hubspot_value

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
    "to_hubspot",
]

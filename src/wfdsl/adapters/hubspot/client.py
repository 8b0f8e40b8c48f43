"""HTTP to HubSpot's API: a method and a path in; the JSON answer, or a typed adapter
error, out. Every call goes through one token bucket per token and API root,
shared by every adapter of the process (`shared_limiter`).

httpx is an optional extra, imported when an adapter opens, never at import time.

>>> limiter = RateLimiter(burst=1, interval=10.0, daily=0, clock=lambda: 0.0, sleep=lambda s: None)
>>> limiter.acquire(); limiter.used_today
1
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wfdsl.adapters.hubspot.config import EXTRA_HINT, TOKEN_ENV, ConfigurationError, Settings
from wfdsl.runtime.protocols import PermanentAdapterError, TransientAdapterError

if TYPE_CHECKING:
    import httpx


def httpx_module() -> Any:
    """The httpx module, or ConfigurationError naming the extra to install."""
    try:
        import httpx
    except ImportError:
        raise ConfigurationError(EXTRA_HINT) from None
    return httpx


class UncertainOutcome(TransientAdapterError):
    """The request left but no answer came back: HubSpot may or may not have performed it."""


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


class Client:
    """HubSpot's API for one token: rate limited calls with typed errors. The token is
    sent in the `Authorization` header and nowhere else."""

    def __init__(self, settings: Settings, token: str, *, client: httpx.Client | None = None) -> None:
        lib = httpx_module()
        self.settings = settings
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
        self.calls = 0

    def __repr__(self) -> str:  # never the token
        return f"Client(base_url={self.settings.base_url!r})"

    def close(self) -> None:
        self._client.close()

    def call(
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
        httpx = httpx_module()
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
            retry = retry_after(response.headers.get("retry-after"))
            self.limiter.penalise(retry if retry is not None else self.settings.interval)
            raise TransientAdapterError(
                f"HubSpot rate limit reached ({_message(response)}) on {method} {path}",
                retry_after=retry if retry is not None else self.settings.interval,
            )
        if status >= 500:
            raise TransientAdapterError(
                f"HubSpot answered {status} to {method} {path}: {_message(response)}",
                retry_after=retry_after(response.headers.get("retry-after")),
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


def retry_after(text: str | None) -> float | None:
    """The seconds of a `Retry-After` header; None when absent or not a number."""
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


__all__ = ["Client", "RateLimiter", "UncertainOutcome", "httpx_module", "retry_after", "shared_limiter"]

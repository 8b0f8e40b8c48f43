"""The configuration of the `hubspot://` adapter: a URL and the environment in;
`Settings`, and the portal ids a `hubspot.lock.toml` names, out.

>>> Settings().base_url
'https://api.hubapi.com'
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import attrs

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_LEDGER = "wfdsl-hubspot.db"
TOKEN_ENV = "HUBSPOT_TOKEN"
BASE_URL_ENV = "HUBSPOT_BASE_URL"
EXTRA_HINT = "the HubSpot adapter needs: pip install 'wfdsl-crm[hubspot]'"


class ConfigurationError(ValueError):
    """The adapter cannot start as configured (a missing token or extra, a bad option)."""


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


def lock_names(path: str) -> dict[tuple[str, str], str]:
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


__all__ = [
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_LEDGER",
    "EXTRA_HINT",
    "TOKEN_ENV",
    "ConfigurationError",
    "Settings",
    "lock_names",
    "parse_url",
]

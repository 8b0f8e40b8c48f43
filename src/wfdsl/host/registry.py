"""Registry: a store or adapter URL in, an opened `StateStore` / `CRMAdapter` out.

Stores and adapters are found by name through the entry-point groups
`wfdsl.stores` and `wfdsl.adapters`; the URL scheme is the name:

    memory://                   the in-memory store / CRM (nothing survives the process)
    postgresql://u@host/db      a PostgreSQL database shared by many workers (also postgres://)
    sqlite:///state.db          a SQLite file, relative to the working directory
    sqlite:////var/lib/x.db     a SQLite file, absolute path (four slashes)
    sqlite:///state.db?synchronous=normal   options as a query string

A registered object is called with the URL: a class with a `from_url(url)`
class method gets the whole URL; any other callable is called without
arguments, and then the URL may not name a location (`memory://`).

>>> registry = Registry("wfdsl.stores", "store")
>>> "memory" in registry.names()
True
>>> try:
...     registry.open("nosuch://x")
... except ConfigError as error:
...     print(error)
unknown store 'nosuch' in 'nosuch://x' (known: memory, postgres, postgresql, sqlite)
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from wfdsl.runtime.protocols import CRMAdapter, StateStore

STORE_GROUP = "wfdsl.stores"
ADAPTER_GROUP = "wfdsl.adapters"


class ConfigError(Exception):
    """A store or adapter URL that cannot be used (CLI exit code 2)."""


def split_url(url: str) -> tuple[str, str]:
    """`sqlite:///state.db` -> (`sqlite`, `/state.db`); ConfigError when not a URL.

    >>> split_url("memory://")
    ('memory', '')
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not scheme.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"not a URL: {url!r} (expected NAME://LOCATION, e.g. sqlite:///state.db or memory://)")
    return scheme.lower(), rest


def shown_url(url: str) -> str:
    """A URL as messages show it: without a password.

    >>> shown_url("postgresql://ann:secret@db/wf")
    'postgresql://ann@db/wf'
    """
    scheme, sep, rest = url.partition("://")
    location, slash, path = rest.partition("/")
    if not sep or "@" not in location:
        return url
    credentials, _, host = location.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}@{host}{slash}{path}"


class Registry:
    """Named factories of one kind (stores or adapters): entry points plus explicit ones."""

    def __init__(self, group: str, what: str) -> None:
        self.group = group
        self.what = what
        self.factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, factory: Callable[..., Any]) -> None:
        """Add (or replace) a factory without an entry point (tests, embedding)."""
        self.factories[name] = factory

    def _entry_points(self) -> dict[str, Any]:
        return {entry.name: entry for entry in entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Every known name, sorted."""
        return sorted(set(self._entry_points()) | set(self.factories))

    def factory(self, name: str) -> Callable[..., Any]:
        if name in self.factories:
            return self.factories[name]
        entry = self._entry_points().get(name)
        if entry is None:
            raise KeyError(name)
        try:
            loaded: Callable[..., Any] = entry.load()
        except Exception as error:  # a broken plug-in is a configuration problem
            raise ConfigError(f"{self.what} {name!r} ({entry.value}) cannot be loaded: {error}") from error
        return loaded

    def open(self, url: str) -> Any:
        """The store or adapter a URL names, opened."""
        scheme, rest = split_url(url)
        try:
            factory = self.factory(scheme)
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(f"unknown {self.what} {scheme!r} in {shown_url(url)!r} (known: {known})") from None
        try:
            if isinstance(factory, OpenedByURL):
                return factory.from_url(url)
            if rest.strip("/"):
                raise ConfigError(f"the {scheme} {self.what} takes no location: use {scheme}:// (got {url!r})")
            return factory()
        except ConfigError:
            raise
        except Exception as error:  # opening failed: bad path, unreadable file, …
            raise ConfigError(f"cannot open {self.what} {shown_url(url)!r}: {error}") from error


@runtime_checkable
class OpenedByURL(Protocol):
    """A store or adapter class that opens itself from its whole URL (`sqlite:///FILE`);
    a class without `from_url` takes no location and is called with no argument."""

    def from_url(self, url: str) -> Any: ...


def stores() -> Registry:
    """The store registry (entry-point group `wfdsl.stores`)."""
    return Registry(STORE_GROUP, "store")


def adapters() -> Registry:
    """The CRM adapter registry (entry-point group `wfdsl.adapters`)."""
    return Registry(ADAPTER_GROUP, "adapter")


def open_store(url: str) -> StateStore:
    """The state store a URL names: `open_store("sqlite:///state.db")`."""
    store: StateStore = stores().open(url)
    return store


def open_adapter(url: str) -> CRMAdapter:
    """The CRM adapter a URL names: `open_adapter("sqlite:///crm.db")`."""
    adapter: CRMAdapter = adapters().open(url)
    return adapter


__all__ = [
    "ADAPTER_GROUP",
    "STORE_GROUP",
    "ConfigError",
    "Registry",
    "adapters",
    "open_adapter",
    "open_store",
    "split_url",
    "stores",
]

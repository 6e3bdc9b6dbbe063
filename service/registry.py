"""The registries: every kind of sink, store and feed source is one module that exports one record.

A sink module exports `SINK = SinkType(...)`, a store module `STORE = StoreType(...)`, a source module
`SOURCE = SourceType(...)`. Settings validates each config table with the record's options model, the
composition root builds through the record, and `check` describes through it; none of them names a
kind. Adding a kind is adding a module to `service/sinks/`, `service/state/` or `service/sources/`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from service.options import Options, SinkOptions

if TYPE_CHECKING:
    import aiohttp

    from service.logs import Logger
    from service.models import FeedReader
    from service.sinks.base import Sink
    from service.state.protocol import Store

OptionsT = TypeVar("OptionsT", bound=Options)
SinkOptionsT = TypeVar("SinkOptionsT", bound=SinkOptions)
T = TypeVar("T")


class Shared:
    """Objects that outlive a config reload, made once per runtime and found by key (Telegram's
    per-bot rate limits: a rebuilt sink must keep respecting the limits its predecessor counted)."""

    def __init__(self) -> None:
        self._objects: dict[str, object] = {}

    def get(self, key: str, make: Callable[[], T]) -> T:
        if key not in self._objects:
            self._objects[key] = make()
        found: T = self._objects[key]  # type: ignore[assignment]
        return found


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What a sink may use that it does not own: the runtime's HTTP session and shared objects."""

    session: aiohttp.ClientSession
    log: Logger
    shared: Shared = field(default_factory=Shared)


@dataclass(frozen=True, slots=True)
class SinkType(Generic[SinkOptionsT]):
    """A kind of sink: the `type` of a `[sinks.NAME]` table, the model of that table, how to build the
    sink from it, and how `check` describes it (never with its secrets)."""

    name: str
    options: type[SinkOptionsT]
    build: Callable[[str, SinkOptionsT, SinkContext], Sink]
    describe: Callable[[SinkOptionsT], str]


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """What every store is told besides where it is."""

    seen_ttl: float
    key_prefix: str


@dataclass(frozen=True, slots=True)
class StoreType:
    """A kind of store, chosen by the URL scheme of `service.store`; the one with no schemes takes a
    plain directory path (and is the default)."""

    name: str
    schemes: tuple[str, ...]
    build: Callable[[str, StoreSettings], Store]
    describe: Callable[[str], str]


@dataclass(frozen=True, slots=True)
class SourceType(Generic[OptionsT]):
    """A kind of feed source: the `type` of a `[[feeds]]` entry, the model of that entry (the common
    feed keys plus its own), the URL it polls, how a fetched body becomes items, and what `check` shows."""

    name: str
    options: type[OptionsT]
    locate: Callable[[OptionsT], str]
    reader: Callable[[OptionsT], FeedReader]
    describe: Callable[[OptionsT], str]


def _discover(package: str, attribute: str) -> dict[str, Any]:
    """Every `attribute` exported by a module of `package`, by its name."""
    found: dict[str, Any] = {}
    root = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        record = getattr(importlib.import_module(f"{package}.{info.name}"), attribute, None)
        if record is not None:
            if record.name in found:
                raise RuntimeError(f"two {attribute} records are named {record.name!r} in {package}")
            found[record.name] = record
    return found


@cache
def sink_types() -> Mapping[str, SinkType[Any]]:
    return _discover("service.sinks", "SINK")


@cache
def store_types() -> Mapping[str, StoreType]:
    return _discover("service.state", "STORE")


@cache
def source_types() -> Mapping[str, SourceType[Any]]:
    return _discover("service.sources", "SOURCE")


def store_type_for(target: str | None) -> StoreType:
    """The store kind serving `target`: by its URL scheme, else the one that takes a path.

    Raises ValueError naming the schemes known, for a URL no store serves."""
    scheme = target.partition("://")[0].lower() if target and "://" in target else None
    for kind in store_types().values():
        if (scheme in kind.schemes) if scheme else not kind.schemes:
            return kind
    known = ", ".join(f"{s}://" for k in store_types().values() for s in k.schemes)
    raise ValueError(f"no store serves {scheme}:// URLs (use a directory path, or {known})")

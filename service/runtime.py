"""The composition root: the one place that turns a config into running parts.

`build_runtime(config, log)` opens the store, the fetcher and the HTTP session, builds the sinks through
their registry, and wires the pipeline and the outbox; every command (`run`, `run --once`, `send-test`,
`outbox`, `feeds status`) works inside it. Nothing below sees a settings object: each adapter gets plain
values. `Runtime.reload` builds the parts a config edit changes, and swaps them in only when all of them
were built.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp

from service import USER_AGENT
from service.clock import utcnow
from service.errors import ConfigError, OptionError, Problem, StoreError
from service.events.anchors import AnchorFinder, finder_for
from service.feeds.fetch import Fetcher, FetchLimits
from service.logs import Logger
from service.match import Matcher, compile_matcher
from service.metrics import Metrics
from service.options import SinkOptions
from service.pipeline import Pipeline, Schedule
from service.registry import Shared, SinkContext, sink_types, store_type_for
from service.settings import MAX_SLOTS, Config
from service.sinks.base import Sink
from service.sinks.outbox import Outbox
from service.state.protocol import Store
from service.worker import PollScheduler


def replica_id() -> str:
    """Who holds leases and delivery claims: host, process and a random part.

    Every process is its own owner (a restarted one too), so two processes sharing a store, a
    `run --once` beside a running service included, never take each other's claims for their own.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def build_store(config: Config) -> Store:
    target = config.service.store
    return store_type_for(target).build(target or "", config.service.store_settings())


def describe_store(config: Config) -> str:
    """The store for humans, with any password in a Redis URL masked."""
    target = config.service.store
    return store_type_for(target).describe(target or "")


def fetch_limits(config: Config) -> FetchLimits:
    service = config.service
    return FetchLimits(
        max_bytes=service.max_feed_bytes,
        connect_timeout=service.connect_timeout,
        total_timeout=service.fetch_timeout,
        # With "auto" the scheduler's slots follow the feeds across reloads, so the fetcher allows
        # the most "auto" can give; a number set in the file is both limits.
        concurrency=MAX_SLOTS if service.concurrency == "auto" else service.concurrency,
        per_host=service.per_host_concurrency,
    )


def build_sinks(config: Config, context: SinkContext) -> dict[str, Sink]:
    """Every configured sink, through its kind's record. A sink that cannot be built (a bad template,
    CA file or Apprise URL) is a config problem, reported with the others under its full key path."""
    sinks: dict[str, Sink] = {}
    problems: list[Problem] = []
    for name, options in config.sinks.items():
        try:
            sinks[name] = sink_types()[options.type].build(name, options, context)
        except OptionError as exc:
            problems.append(Problem(f"sinks.{name}.{exc.option}", exc.reason))
    if problems:
        raise ConfigError(config.source, problems)
    return sinks


def describe_sink(options: SinkOptions) -> str:
    """`TYPE  what it is`, never its secrets (tokens, passwords, signing keys, URL paths)."""
    return f"{options.type}  {sink_types()[options.type].describe(options)}"


def http_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})


@dataclass
class Runtime:
    """Everything a command runs on. `sinks` is one dict for the runtime's life (the outbox reads it),
    replaced in place by `reload`; `matcher` compiles on first use (commands that match nothing never
    pay for it)."""

    config: Config
    store: Store
    fetcher: Fetcher
    context: SinkContext
    sinks: dict[str, Sink]
    log: Logger
    clock: Callable[[], datetime]
    telemetry: Metrics
    owner: str = field(default_factory=replica_id)
    _routes: Mapping[str, tuple[str, ...]] = field(init=False)
    _retired: list[Sink] = field(init=False, default_factory=list)
    _matcher: Matcher | None = None
    _anchors: AnchorFinder | None = None
    _pipeline: Pipeline | None = None
    _outbox: Outbox | None = None

    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            self._matcher = compile_matcher(self.config.watchlist_defs(), self.config.vocabulary())
        return self._matcher

    @property
    def anchors(self) -> AnchorFinder:
        """The event linker's anchor finder: built-in tables plus the configured entities."""
        if self._anchors is None:
            self._anchors = finder_for(tuple(self.config.vocabulary().entities))
        return self._anchors

    def __post_init__(self) -> None:
        self._routes = self.config.routes()

    @property
    def routes(self) -> Mapping[str, tuple[str, ...]]:
        return self._routes

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            service = self.config.service
            self._pipeline = Pipeline(
                store=self.store,
                fetcher=self.fetcher,
                matcher=lambda: self.matcher,
                routes=lambda: self.routes,
                clock=self.clock,
                anchors=lambda: self.anchors,
                breaking=lambda: self.config.breaking_rules(),
                log=self.log,
                schedule=Schedule(service.min_interval, service.max_interval),
                telemetry=self.telemetry,
            )
        return self._pipeline

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(
                self.store,
                self.sinks,
                owner=self.owner,
                clock=self.clock,
                log=self.log,
                send_timeout=self.config.service.delivery_timeout,
                telemetry=self.telemetry,
            )
        return self._outbox

    def poll_scheduler(self, on_alerts: Callable[[], None]) -> PollScheduler:
        service = self.config.service
        return PollScheduler(
            self.pipeline,
            self.store,
            owner=self.owner,
            concurrency=self.config.poll_concurrency(),
            per_host=service.per_host_concurrency,
            clock=self.clock,
            lease_ttl=service.lease_ttl,
            on_alerts=on_alerts,
            log=self.log,
            telemetry=self.telemetry,
        )

    def reload(self, config: Config, matcher: Matcher | None = None) -> None:
        """Build what `config` changes (matcher, sinks), then swap it all in; raise ConfigError, with
        nothing swapped, when any part cannot be built. The store, fetcher and HTTP port stay."""
        matcher = matcher or compile_matcher(config.watchlist_defs(), config.vocabulary())
        sinks = build_sinks(config, self.context)
        replaced = list(self.sinks.values())
        anchors = finder_for(tuple(config.vocabulary().entities))
        self.config, self._matcher, self._routes = config, matcher, config.routes()
        self._anchors = anchors
        self.telemetry.by_feed = config.per_feed_metrics()
        self.sinks.clear()
        self.sinks.update(sinks)
        self._retired.extend(replaced)

    async def close_retired_sinks(self) -> None:
        """Close sinks a reload replaced (after the delivery pass that may still hold them)."""
        retired, self._retired[:] = list(self._retired), []
        for sink in retired:
            await _close(sink, self.log)


@contextlib.asynccontextmanager
async def build_runtime(
    config: Config,
    log: Logger,
    *,
    clock: Callable[[], datetime] = utcnow,
    open_store: bool = True,
) -> AsyncIterator[Runtime]:
    """The runtime for `config`, torn down on exit: outcomes still owed flushed, sinks and store closed.

    With `open_store` False the store is built but never opened (`send-test` needs none, and so runs
    beside a service that holds the embedded store)."""
    store = build_store(config)
    if open_store:
        await store.open()
    try:
        if open_store:
            await store.ping()
        async with Fetcher(fetch_limits(config), user_agent=USER_AGENT) as fetcher, http_session() as session:
            context = SinkContext(session=session, log=log, shared=Shared())
            sinks = build_sinks(config, context)
            runtime = Runtime(
                config, store, fetcher, context, sinks, log, clock, Metrics(config.per_feed_metrics())
            )
            try:
                yield runtime
            finally:
                await _tear_down(runtime, flush=open_store)
    finally:
        if open_store:
            await store.close()


async def _tear_down(runtime: Runtime, *, flush: bool) -> None:
    if flush and runtime._outbox is not None:
        # Outcomes a failed write kept get one more try; unwritten, those alerts go out again later.
        with contextlib.suppress(StoreError):
            await runtime.outbox.close()
    await runtime.close_retired_sinks()
    for sink in runtime.sinks.values():
        await _close(sink, runtime.log)


async def _close(sink: Sink, log: Logger) -> None:
    try:
        await sink.close()
    except Exception as exc:  # a sink that fails to close must not keep the others open
        log.warning("sink_close_failed", sink=sink.name, error=str(exc) or type(exc).__name__)

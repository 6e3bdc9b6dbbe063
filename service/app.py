"""The long-running service (`newsalert run`): the composition root for a process that lives for months.

It owns the adapters (store, fetcher, HTTP session, sinks), the worker loop (scheduler + outbox), the
probes and metrics, config reloads, and a clean stop. Nothing below it sees the config object: a reload
swaps in a new matcher, routes, sinks and feed list, each replaced whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from service import compose
from service.clock import utcnow
from service.errors import ConfigError, StoreError
from service.match import Matcher, compile_matcher
from service.metrics import Metrics
from service.pipeline import Pipeline, Schedule
from service.settings import Config, load_config
from service.sinks.base import Sink
from service.sinks.outbox import Outbox
from service.web import Heartbeat, build_app, start_http
from service.worker import PollScheduler

TICK_SECONDS = 1.0
RELOAD_CHECK_SECONDS = 2.0
DUPLICATE_SIGNAL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class FileStamp:
    """Enough to notice an edit: size, modification time and a hash of the content."""

    size: int
    mtime: float
    digest: str

    @classmethod
    def of(cls, path: str) -> FileStamp | None:
        try:
            stat = os.stat(path)
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return None
        return cls(stat.st_size, stat.st_mtime, digest)


def _warm_up() -> None:
    """Load the language model now, not inside the first poll that meets news (seconds, once)."""
    from service.text import detect_language

    detect_language("warming up the language model before the first poll")
    detect_language("تحميل نموذج اللغة قبل أول استطلاع للخلاصات")


class Service:
    def __init__(
        self, config_path: str, config: Config, log: Any, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._path = config_path
        self._config = config
        self._log = log
        self._clock = clock
        self._stamp = FileStamp.of(config_path)
        self._matcher: Matcher = compile_matcher(config.watchlist_defs(), config.vocabulary())
        self._routes = config.routes()
        self._sinks: dict[str, Sink] = {}
        self.metrics = Metrics()
        self.heartbeat = Heartbeat(stale_after=max(30.0, 10 * TICK_SECONDS))
        self._stop = asyncio.Event()
        self._reload_now = asyncio.Event()
        self._wake_outbox = asyncio.Event()
        self._store_error: str | None = None
        self._signals = 0
        self._first_signal = 0.0

    # -- lifecycle --------------------------------------------------------------------------------

    async def run(self) -> int:
        self._install_signal_handlers()
        store = compose.build_store(self._config)
        await store.open()
        try:
            await store.ping()
            await asyncio.to_thread(_warm_up)
            return await self._run_with(store)
        finally:
            await store.close()

    async def _run_with(self, store: Any) -> int:
        service = self._config.service
        async with compose.build_fetcher(self._config) as fetcher, compose.sink_session() as session:
            self._session = session
            self._sinks.update(compose.build_sinks(self._config, session))
            pipeline = Pipeline(
                store=store,
                fetcher=fetcher,
                matcher=lambda: self._matcher,
                routes=lambda: self._routes,
                clock=self._clock,
                log=self._log,
                schedule=Schedule(service.min_interval, service.max_interval),
                telemetry=self.metrics,
            )
            owner = compose.replica_id()
            outbox = Outbox(
                store,
                self._sinks,
                owner=owner,
                clock=self._clock,
                log=self._log,
                send_timeout=service.delivery_timeout,
                telemetry=self.metrics,
            )
            scheduler = PollScheduler(
                pipeline,
                store,
                owner=owner,
                concurrency=service.concurrency,
                clock=self._clock,
                lease_ttl=service.lease_ttl,
                on_alerts=self._wake_outbox.set,
                log=self._log,
            )
            await scheduler.set_feeds(self._config.feed_defs())
            self.metrics.feeds.set(len([f for f in self._config.feed_defs() if f.enabled]))
            runner = await self._start_http(store)
            self._log.info(
                "service_started", feeds=len(self._config.feeds), watchlists=len(self._config.watchlists)
            )
            try:
                await self._loop(scheduler, outbox, store)
            finally:
                await self._shutdown(scheduler, outbox, runner)
        return 0

    async def _loop(self, scheduler: PollScheduler, outbox: Outbox, store: Any) -> None:
        delivering = asyncio.create_task(self._deliver_forever(outbox, store))
        watching = asyncio.create_task(self._watch_config(scheduler))
        try:
            while not self._stop.is_set():
                self.heartbeat.beat()
                self.metrics.heartbeat.set_to_current_time()
                try:
                    await scheduler.tick()
                except StoreError as exc:
                    self._log.error("store_unavailable", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), TICK_SECONDS)
        finally:
            watching.cancel()
            self._stop.set()
            self._wake_outbox.set()
            await asyncio.gather(delivering, watching, return_exceptions=True)

    async def _deliver_forever(self, outbox: Outbox, store: Any) -> None:
        while not self._stop.is_set():
            # Cleared before the pass: an alert enqueued during it wakes the next pass at once.
            self._wake_outbox.clear()
            try:
                await outbox.deliver_due()
                self.metrics.outbox_depth.set(await store.outbox_depth())
                self._store_error = None
            except StoreError as exc:
                self._store_error = str(exc)
                self._log.error("store_unavailable", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_outbox.wait(), TICK_SECONDS)

    async def _shutdown(self, scheduler: PollScheduler, outbox: Outbox, runner: Any) -> None:
        grace = self._config.service.grace_period
        self._log.info("service_stopping", grace_s=grace, polls_in_flight=scheduler.in_flight)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        await scheduler.drain(grace)
        # Deliveries already accepted into the outbox get what is left of the grace period; anything
        # unfinished stays in the durable outbox for the next start.
        with contextlib.suppress(TimeoutError, StoreError):
            await asyncio.wait_for(outbox.deliver_due(), max(0.1, deadline - loop.time()))
        # Outcomes a failed write kept get one more try; unwritten, those alerts go out again later.
        with contextlib.suppress(TimeoutError, StoreError):
            await asyncio.wait_for(outbox.close(), max(0.1, deadline - loop.time()))
        await scheduler.cancel()
        if runner is not None:
            await runner.cleanup()
        self._log.info("service_stopped")

    # -- signals and reloads ----------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._reload_now.set)

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        now = asyncio.get_running_loop().time()
        if self._signals and now - self._first_signal < DUPLICATE_SIGNAL_SECONDS:
            return  # the same stop delivered twice (process group, a wrapper forwarding it)
        self._signals += 1
        self._first_signal = self._first_signal or now
        if self._signals > 1:
            # A second signal means now. The outbox is durable, so nothing accepted into it is lost.
            self._log.warning("service_killed", signal=sig.name)
            os._exit(128 + sig.value)
        self._log.info("stop_requested", signal=sig.name)
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()

    async def _watch_config(self, scheduler: PollScheduler) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reload_now.wait(), RELOAD_CHECK_SECONDS)
            forced = self._reload_now.is_set()
            self._reload_now.clear()
            stamp = await asyncio.to_thread(FileStamp.of, self._path)
            if stamp is None or (stamp == self._stamp and not forced):
                continue
            self._stamp = stamp
            await self.reload(scheduler)

    async def reload(self, scheduler: PollScheduler) -> bool:
        """Validate the whole new file first; only then swap matcher, routes, sinks and feeds."""
        try:
            config = await asyncio.to_thread(load_config, self._path)
            matcher = await asyncio.to_thread(compile_matcher, config.watchlist_defs(), config.vocabulary())
            new_sinks = compose.build_sinks(config, self._session)
        except ConfigError as exc:
            self.metrics.reloads.labels("failed").inc()
            for problem in exc.problems:
                self._log.error("config_reload_failed", error=problem.render(exc.file))
            return False
        self._warn_about_restart_only_keys(config)
        self._matcher, self._routes = matcher, config.routes()
        self._sinks.clear()
        self._sinks.update(new_sinks)
        feeds = config.feed_defs()
        added, removed = await scheduler.set_feeds(feeds)
        self._config = config
        self.metrics.feeds.set(len([f for f in feeds if f.enabled]))
        self.metrics.reloads.labels("applied").inc()
        self._log.info(
            "config_reloaded", feeds_added=added, feeds_removed=removed, watchlists=len(config.watchlists)
        )
        return True

    def _warn_about_restart_only_keys(self, config: Config) -> None:
        old, new = self._config.service, config.service
        for key in ("store", "http_host", "http_port", "concurrency", "fetch_timeout", "max_feed_bytes"):
            if getattr(old, key) != getattr(new, key):
                self._log.warning("config_needs_restart", key=f"service.{key}")

    # -- probes -----------------------------------------------------------------------------------

    async def _start_http(self, store: Any) -> Any:
        service = self._config.service
        if service.http_port == 0:
            return None

        async def ready() -> str | None:
            try:
                await asyncio.wait_for(store.ping(), 2.0)
            except (StoreError, TimeoutError) as exc:
                return f"store unreachable: {exc}"
            return None

        runner = await start_http(
            build_app(self.heartbeat, ready, self.metrics), service.http_host, service.http_port
        )
        self._log.info("http_listening", host=service.http_host, port=service.http_port)
        return runner

"""The long-running service (`newsalert run`): it supervises a runtime for a process that lives for months.

`service.runtime` builds the parts; this module runs them: the poll and delivery loops, the probes and
metrics endpoint, config reloads (validated whole, then swapped in by the runtime), signals and a clean
stop within the grace period.
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

from aiohttp import web

from service.clock import utcnow
from service.errors import ConfigError, StoreError
from service.logs import Logger
from service.match import compile_matcher
from service.runtime import Runtime, build_runtime
from service.settings import Config, load_config
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
        self, config_path: str, config: Config, log: Logger, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._path = config_path
        self._config = config
        self._log = log
        self._clock = clock
        self._stamp = FileStamp.of(config_path)
        self.heartbeat = Heartbeat(stale_after=max(30.0, 10 * TICK_SECONDS))
        self._stop = asyncio.Event()
        self._reload_now = asyncio.Event()
        self._wake_outbox = asyncio.Event()
        self._signals = 0
        self._first_signal = 0.0

    # -- lifecycle --------------------------------------------------------------------------------

    async def run(self) -> int:
        self._install_signal_handlers()
        async with build_runtime(self._config, self._log, clock=self._clock) as runtime:
            await asyncio.to_thread(lambda: runtime.matcher)  # compiled before the first poll needs it
            await asyncio.to_thread(_warm_up)
            return await self._run_with(runtime)

    async def _run_with(self, runtime: Runtime) -> int:
        scheduler = runtime.poll_scheduler(on_alerts=self._wake_outbox.set)
        feeds = runtime.config.feed_defs()
        await scheduler.set_feeds(feeds)
        runtime.telemetry.feeds.set(len([f for f in feeds if f.enabled]))
        http = await self._start_http(runtime)
        self._log.info("service_started", feeds=len(feeds), watchlists=len(runtime.config.watchlists))
        try:
            await self._loop(runtime, scheduler)
        finally:
            await self._shutdown(runtime, scheduler, http)
        return 0

    async def _loop(self, runtime: Runtime, scheduler: PollScheduler) -> None:
        delivering = asyncio.create_task(self._deliver_forever(runtime))
        watching = asyncio.create_task(self._watch_config(runtime, scheduler))

        def beat() -> None:
            self.heartbeat.beat()
            runtime.telemetry.heartbeat.set_to_current_time()

        try:
            await scheduler.run(self._stop, beat)
        finally:
            watching.cancel()
            self._stop.set()
            self._wake_outbox.set()
            await asyncio.gather(delivering, watching, return_exceptions=True)

    async def _deliver_forever(self, runtime: Runtime) -> None:
        while not self._stop.is_set():
            # Cleared before the pass: an alert enqueued during it wakes the next pass at once.
            self._wake_outbox.clear()
            try:
                await runtime.outbox.deliver_due()
                await runtime.close_retired_sinks()
                runtime.telemetry.outbox_depth.set(await runtime.store.outbox_depth())
            except StoreError as exc:
                self._log.error("store_unavailable", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_outbox.wait(), TICK_SECONDS)

    async def _shutdown(self, runtime: Runtime, scheduler: PollScheduler, http: web.AppRunner | None) -> None:
        grace = runtime.config.service.grace_period
        self._log.info("service_stopping", grace_s=grace, polls_in_flight=scheduler.in_flight)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        await scheduler.drain(grace)
        # Deliveries already accepted into the outbox get what is left of the grace period; anything
        # unfinished stays in the durable outbox for the next start.
        with contextlib.suppress(TimeoutError, StoreError):
            await asyncio.wait_for(runtime.outbox.deliver_due(), max(0.1, deadline - loop.time()))
        # Outcomes a failed write kept get one more try; unwritten, those alerts go out again later.
        with contextlib.suppress(TimeoutError, StoreError):
            await asyncio.wait_for(runtime.outbox.close(), max(0.1, deadline - loop.time()))
        await scheduler.cancel()
        if http is not None:
            await http.cleanup()
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

    async def _watch_config(self, runtime: Runtime, scheduler: PollScheduler) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reload_now.wait(), RELOAD_CHECK_SECONDS)
            forced = self._reload_now.is_set()
            self._reload_now.clear()
            stamp = await asyncio.to_thread(FileStamp.of, self._path)
            if stamp is None or (stamp == self._stamp and not forced):
                continue
            self._stamp = stamp
            await self.reload(runtime, scheduler)

    async def reload(self, runtime: Runtime, scheduler: PollScheduler) -> bool:
        """Validate the whole new file and build its parts first; only then swap them in."""
        try:
            config = await asyncio.to_thread(load_config, self._path)
            # Compiling runs in a thread; the swap itself happens on the loop, between two passes.
            matcher = await asyncio.to_thread(compile_matcher, config.watchlist_defs(), config.vocabulary())
            old = runtime.config
            runtime.reload(config, matcher)
        except ConfigError as exc:
            runtime.telemetry.reloads.labels("failed").inc()
            for problem in exc.problems:
                self._log.error("config_reload_failed", error=problem.render(exc.file))
            return False
        self._warn_about_restart_only_keys(old, config)
        feeds = config.feed_defs()
        if config.service.concurrency == "auto":
            scheduler.concurrency = config.poll_concurrency()  # sized for the feeds now configured
        added, removed = await scheduler.set_feeds(feeds)
        runtime.telemetry.feeds.set(len([f for f in feeds if f.enabled]))
        runtime.telemetry.reloads.labels("applied").inc()
        self._log.info(
            "config_reloaded",
            feeds_added=added,
            feeds_removed=removed,
            watchlists=len(config.watchlists),
            concurrency=scheduler.concurrency,
        )
        return True

    def _warn_about_restart_only_keys(self, before: Config, config: Config) -> None:
        old, new = before.service, config.service
        for key in ("store", "http_host", "http_port", "concurrency", "fetch_timeout", "max_feed_bytes"):
            if getattr(old, key) != getattr(new, key):
                self._log.warning("config_needs_restart", key=f"service.{key}")

    # -- probes -----------------------------------------------------------------------------------

    async def _start_http(self, runtime: Runtime) -> web.AppRunner | None:
        service = runtime.config.service
        if service.http_port == 0:
            return None
        store = runtime.store

        async def ready() -> str | None:
            try:
                await asyncio.wait_for(store.ping(), 2.0)
            except (StoreError, TimeoutError) as exc:
                return f"store unreachable: {exc}"
            return None

        http = await start_http(
            build_app(self.heartbeat, ready, runtime.telemetry), service.http_host, service.http_port
        )
        self._log.info("http_listening", host=service.http_host, port=service.http_port)
        return http

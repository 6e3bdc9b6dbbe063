"""Sends what the store's outbox holds: every (alert, sink) ends delivered, or parked with its reason.

- A pass claims every due delivery it will work on in one store call, and writes outcomes in batches
  (one store call each: when `ack_batch` are waiting, `ack_delay` seconds after the first, at the end
  of the pass, and on `close`). A claim outlasts the longest pass, so no other replica sends those
  deliveries meanwhile; one a crashed replica held is taken over once its claim expires, and fencing
  refuses the late outcomes of a replica whose claim was taken over. What a pass did not settle (a
  spent budget, a failing or pacing sink) is given back at its end, costing no attempt.
- At least once: a crash between a send and the write of its outcome (during the sink call, or in the
  few milliseconds an outcome waits for its batch) sends that alert once more, with the same id, once
  the claim has expired.
- Each sink works through its own queue, all sinks at once, so a slow or broken sink never delays the
  others within a pass; a sink spends at most `pass_budget` seconds of a pass, and what it did not reach
  stays due for the next one.
- One delivery in flight per sink keeps its alerts in order; a sink whose `concurrency` is above 1 (a
  webhook receiver that takes several requests at once) gets that many, without the ordering.
- A transient failure (RetryLater, a timeout) reschedules that delivery with exponential backoff and
  jitter, never sooner than the sink asked (Retry-After, retry_after), and stops that sink's queue for
  this pass; after `max_attempts` it is parked. A permanent failure parks at once. A delivery for a sink
  no longer configured is parked.
- `Throttled` (the sink's own pacing said "not yet") is not a failure: no attempt is counted, and the
  sink is set aside until the wait is over (passes claim none of its deliveries meanwhile), its queue
  untouched and still in order.
- Edits: a delivery marked `edit` (a later copy of the story named another outlet after the alert went
  out) is handed to the sink's `edit` with the receipt its send returned, in the sink's queue like any
  delivery, with the same retries, pacing and parking; a sink that cannot edit parks it. A send's
  receipt is written with its outcome.
- Digest (a sink with `digest` seconds and `send_batch`): a new delivery is held (rescheduled, with the
  reason "held for the digest") until the window of the oldest held one closes; then every due delivery
  of that sink goes out in one `send_batch` call (at most `digest_max` per call) and they are marked
  delivered, retried or parked together. Holding is a store write, so a digest survives a restart; the
  hold counts as an attempt in the store, which is why a digest sink gets one attempt more. After a
  restart the open window is forgotten: alerts arriving then start a new window (two digests, no loss).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.errors import PermanentDeliveryError, RetryLater, StoreError
from service.logs import Logger
from service.sinks.base import (
    MAX_RETRY_AFTER,
    BatchSink,
    EditableSink,
    Sink,
    Throttled,
    concurrency_of,
    digest_of,
)
from service.state.protocol import Ack, Delivery, DeliveryStatus, OutboxStore
from service.telemetry import NullTelemetry, Telemetry

# A pass that found every sink with due work set aside waits this long at most before returning, so a
# caller that loops on `deliver_due` until nothing is pending does not spin.
IDLE_PAUSE_SECONDS = 0.25
CLAIM_MARGIN_SECONDS = 30.0
ACK_BATCH = 100  # this many outcomes waiting are written at once, without waiting for ACK_DELAY
ACK_DELAY_SECONDS = 0.005  # how long an outcome waits for others before it is written


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay: float = 5.0
    max_delay: float = 3600.0
    max_attempts: int = 12

    def delay(self, attempts: int, asked: float | None, rng: random.Random) -> float:
        """Exponential backoff with full jitter in [50%, 100%], never sooner than the sink asked."""
        backoff = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        backoff *= 0.5 + rng.random() / 2
        return float(max(backoff, min(asked or 0.0, MAX_RETRY_AFTER)))


@dataclass(slots=True)
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    parked: int = 0
    held: int = 0  # waiting for their digest window
    throttled: int = 0  # sinks set aside by their own pacing
    by_sink: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def count(self, sink: str, outcome: str, n: int = 1) -> None:
        setattr(self, outcome, getattr(self, outcome) + n)
        self.by_sink[sink][outcome] += n


class _AckBuffer:
    """Outcomes of claimed deliveries waiting to be written together, one store call per batch.

    A write starts when `size` are waiting, or `delay` seconds after the first one; one runs at a time,
    and what arrives meanwhile waits for the next. A failed write keeps its outcomes for the next one.
    """

    def __init__(self, store: OutboxStore, log: Logger, size: int, delay: float) -> None:
        self._store = store
        self._log = log
        self._size = max(1, size)
        self._delay = delay
        self._pending: list[Ack] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def add(self, ack: Ack) -> None:
        self._pending.append(ack)
        if not self._writing():
            self._schedule()

    async def flush(self) -> None:
        """Write every outcome still waiting (raises StoreError, keeping them, when the store fails)."""
        while True:
            self._cancel_timer()
            task = self._task
            if task is not None and not task.done():
                with contextlib.suppress(Exception):
                    await asyncio.shield(task)
                continue
            if not self._pending:
                return
            await self._write()

    def _writing(self) -> bool:
        return self._task is not None and not self._task.done()

    def _schedule(self) -> None:
        if len(self._pending) >= self._size:
            self._start()
        elif self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._start)

    def _start(self) -> None:
        self._cancel_timer()
        self._task = asyncio.get_running_loop().create_task(self._write_in_background())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _write_in_background(self) -> None:
        try:
            await self._write()
        except StoreError as exc:
            # Kept for the next write: the end of the pass, or the next outcome's.
            self._log.warning("delivery_outcomes_unwritten", error=str(exc), waiting=len(self._pending))
            return
        except Exception:
            self._log.exception("delivery_outcomes_unwritten", waiting=len(self._pending))
            return
        self._task = None
        self._schedule()

    async def _write(self) -> None:
        async with self._lock:
            batch = list(self._pending)
            if not batch:
                return
            applied = await self._store.ack_deliveries(batch)
            del self._pending[: len(batch)]
        for ack, done in zip(batch, applied, strict=True):
            if not done:
                # This replica's claim was taken over (it stalled past the claim's expiry): the
                # newer claim decides, and may send the alert once more.
                self._log.warning(
                    "delivery_outcome_refused", alert=ack.alert_id, sink=ack.sink, outcome=ack.status
                )


class Outbox:
    def __init__(
        self,
        store: OutboxStore,
        sinks: Mapping[str, Sink],
        *,
        clock: Callable[[], datetime],
        log: Logger,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        send_timeout: float = 60.0,
        telemetry: Telemetry | None = None,
        pass_budget: float = 5.0,
        digest_max: int = 100,
        idle_pause: float = IDLE_PAUSE_SECONDS,
        owner: str = "local",
        ack_batch: int = ACK_BATCH,
        ack_delay: float = ACK_DELAY_SECONDS,
    ) -> None:
        self._store = store
        self._owner = owner
        self._sinks = sinks
        self._clock = clock
        self._log = log
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        self._send_timeout = send_timeout
        self._telemetry: Telemetry = telemetry or NullTelemetry()
        self._pass_budget = pass_budget
        self._digest_max = max(1, digest_max)
        self._idle_pause = idle_pause
        self._paused: dict[str, datetime] = {}
        self._windows: dict[str, datetime] = {}
        # A claim lasts past the longest pass: a sink's budget, then one more attempt's timeout.
        self._claim_ttl = pass_budget + send_timeout + CLAIM_MARGIN_SECONDS
        self._acks = _AckBuffer(store, log, ack_batch, ack_delay)
        self._settled: set[tuple[str, str, bool, int]] = set()

    def paused_until(self, sink: str) -> datetime | None:
        """When a sink set aside by its pacing may send again (None: it is not set aside)."""
        until = self._paused.get(sink)
        return until if until is not None and until > self._clock() else None

    async def deliver_due(self, limit: int = 500) -> DeliveryStats:
        """One pass over every delivery that is due now; its outcomes are written when it returns."""
        stats = DeliveryStats()
        # Outcomes still waiting go first: a delivery sent but not yet acknowledged is pending in the
        # store, and claiming it again would send it twice.
        await self._acks.flush()
        paused = [s for s in self._sinks if self.paused_until(s) is not None]
        due = await self._store.claim_due(
            self._clock(), self._owner, self._claim_ttl, limit, skip_sinks=paused
        )
        queues: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in due:
            queues[delivery.sink].append(delivery)
        try:
            await asyncio.gather(*(self._drain(sink, queue, stats) for sink, queue in queues.items()))
        finally:
            for delivery in due:
                key = _settle_key(delivery)
                if key in self._settled:
                    self._settled.discard(key)
                else:  # not reached: give the claim back for the next pass (or replica)
                    self._acks.add(_ack_for(delivery, DeliveryStatus.PENDING, None))
            await self._acks.flush()
        busy = {*queues, *paused}
        waits = [w for w in (self.paused_until(s) for s in busy) if w is not None]
        if busy and len(waits) == len(busy):
            pause = min(self._idle_pause, (min(waits) - self._clock()).total_seconds())
            await asyncio.sleep(max(0.0, pause))
        return stats

    async def close(self) -> None:
        """Write the outcomes still waiting (at shutdown; a pass writes its own before it returns)."""
        await self._acks.flush()

    async def _drain(self, sink_name: str, queue: list[Delivery], stats: DeliveryStats) -> None:
        sink = self._sinks.get(sink_name)
        if sink is None:
            for delivery in queue:
                self._park(delivery, "the sink is no longer configured", stats)
            return
        if self.paused_until(sink_name) is not None:
            return
        self._paused.pop(sink_name, None)
        deadline = asyncio.get_running_loop().time() + self._pass_budget
        window = digest_of(sink)
        if window is not None and isinstance(sink, BatchSink):
            for delivery in (d for d in queue if d.edit):
                self._park(delivery, "a digest sink cannot edit a message it sent", stats)
            queue = [d for d in queue if not d.edit]
            await self._drain_digest(sink, window, queue, deadline, stats)
            return
        pending = iter(queue)
        stop = asyncio.Event()
        workers = min(concurrency_of(sink), len(queue))
        await asyncio.gather(*(self._work(sink, pending, stop, deadline, stats) for _ in range(workers)))

    async def _work(
        self,
        sink: Sink,
        pending: Iterator[Delivery],
        stop: asyncio.Event,
        deadline: float,
        stats: DeliveryStats,
    ) -> None:
        loop = asyncio.get_running_loop()
        for delivery in pending:
            if stop.is_set():
                return
            if not await self._attempt(sink, delivery, stats):
                # The sink is failing or pacing itself: leave the rest of its queue for a later pass.
                stop.set()
            if stop.is_set() or loop.time() >= deadline:
                return

    async def _attempt(self, sink: Sink, delivery: Delivery, stats: DeliveryStats) -> bool:
        alert, attempt = delivery.alert, delivery.attempts + 1
        log = self._log.bind(alert=alert.id, watchlist=alert.watchlist, sink=sink.name, attempt=attempt)
        started = self._clock()
        receipt: str | None = None
        try:
            if not delivery.edit:
                receipt = await asyncio.wait_for(sink.send(alert), self._send_timeout)
            elif isinstance(sink, EditableSink) and delivery.receipt:
                await asyncio.wait_for(sink.edit(alert, delivery.receipt), self._send_timeout)
            else:
                raise PermanentDeliveryError("this sink cannot edit a message it sent")
        except Throttled as exc:
            self._pause(sink.name, exc.delay, stats, log)
            return False
        except PermanentDeliveryError as exc:
            self._park(delivery, str(exc), stats)
            return True
        except (RetryLater, TimeoutError) as exc:
            self._retry([delivery], exc, stats, log)
            return False
        except Exception as exc:  # a bug in a sink: keep its traceback, keep the alert
            log.exception("sink_failed_unexpectedly")
            self._retry([delivery], exc, stats, log)
            return False
        self._delivered(
            [delivery], sink.name, started, stats, log, receipt if isinstance(receipt, str) else None
        )
        return True

    # -- digests ----------------------------------------------------------------------------------

    async def _drain_digest(
        self, sink: BatchSink, window: float, queue: list[Delivery], deadline: float, stats: DeliveryStats
    ) -> None:
        now, span = self._clock(), timedelta(seconds=window)
        # A delivery already held (or retried) is due because its window closed; a new one is due at
        # once and waits unless it has sat in the store longer than a window (after downtime).
        ready: list[Delivery] = []
        waiting: list[Delivery] = []
        for d in queue:
            (ready if d.attempts > 0 or (d.next_attempt or now) + span <= now else waiting).append(d)
        if waiting:
            self._hold(sink.name, waiting, span, stats)
        loop = asyncio.get_running_loop()
        for start in range(0, len(ready), self._digest_max):
            if not await self._attempt_batch(sink, ready[start : start + self._digest_max], stats):
                return
            if loop.time() >= deadline:
                return

    def _hold(self, sink: str, waiting: list[Delivery], span: timedelta, stats: DeliveryStats) -> None:
        now = self._clock()
        close = self._windows.get(sink)
        if close is None or close <= now:
            close = min(d.next_attempt or now for d in waiting) + span
            self._windows[sink] = close
        note = f"held for the digest until {close:%Y-%m-%d %H:%M:%S}Z"
        for delivery in waiting:
            self._ack(delivery, DeliveryStatus.PENDING, close, note)
        stats.count(sink, "held", len(waiting))
        self._log.info("alerts_held_for_digest", sink=sink, alerts=len(waiting), until=close.isoformat())

    async def _attempt_batch(self, sink: BatchSink, batch: list[Delivery], stats: DeliveryStats) -> bool:
        attempt = max(d.attempts for d in batch)  # the hold counted one
        log = self._log.bind(sink=sink.name, alerts=len(batch), attempt=attempt)
        started = self._clock()
        try:
            await asyncio.wait_for(sink.send_batch([d.alert for d in batch]), self._send_timeout)
        except Throttled as exc:
            self._pause(sink.name, exc.delay, stats, log)
            return False
        except PermanentDeliveryError as exc:
            for delivery in batch:
                self._park(delivery, str(exc), stats)
            return True
        except Exception as exc:
            if not isinstance(exc, RetryLater | TimeoutError):
                log.exception("sink_failed_unexpectedly")
            self._retry(batch, exc, stats, log, held=True)
            return False
        self._delivered(batch, sink.name, started, stats, log)
        return True

    # -- outcomes: each joins the batch of outcomes waiting to be written --------------------------

    def _ack(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        at: datetime,
        error: str = "",
        receipt: str | None = None,
    ) -> None:
        self._settled.add(_settle_key(delivery))
        self._acks.add(_ack_for(delivery, status, at, error, receipt))

    def _delivered(
        self,
        batch: Sequence[Delivery],
        sink: str,
        started: datetime,
        stats: DeliveryStats,
        log: Logger,
        receipt: str | None = None,
    ) -> None:
        now = self._clock()
        for delivery in batch:
            self._ack(delivery, DeliveryStatus.DELIVERED, now, receipt=receipt)
        stats.count(sink, "delivered", len(batch))
        elapsed = (now - started).total_seconds()
        for delivery in batch:  # an edit of a message already sent is not a second delivery
            self._telemetry.delivery_finished(sink, "edited" if delivery.edit else "delivered", elapsed)
        event = (
            "digest_delivered" if len(batch) > 1 else "alert_edited" if batch[0].edit else "alert_delivered"
        )
        log.info(event, duration_ms=int(elapsed * 1000))

    def _retry(
        self,
        batch: Sequence[Delivery],
        exc: Exception,
        stats: DeliveryStats,
        log: Logger,
        *,
        held: bool = False,
    ) -> None:
        """Schedule the next attempt of every delivery in `batch` together, or park them after too many."""
        attempts = max(d.attempts for d in batch) + 1 - (1 if held else 0)
        error = str(exc) or type(exc).__name__
        if attempts >= self._policy.max_attempts:
            for delivery in batch:
                self._park(delivery, f"gave up after {attempts} attempts: {error}", stats)
            return
        asked = exc.delay if isinstance(exc, RetryLater) else None
        delay = self._policy.delay(attempts, asked, self._rng)
        at = self._clock() + timedelta(seconds=delay)
        for delivery in batch:
            self._ack(delivery, DeliveryStatus.PENDING, at, error)
            self._telemetry.delivery_finished(delivery.sink, "retried", None)
        stats.count(batch[0].sink, "retried", len(batch))
        log.warning(
            "alert_delivery_failed",
            error=error,
            retry_in_s=round(delay, 1),
            ambiguous=isinstance(exc, TimeoutError),
        )

    def _pause(self, sink: str, delay: float, stats: DeliveryStats, log: Logger) -> None:
        until = self._clock() + timedelta(seconds=min(max(delay, 0.0), MAX_RETRY_AFTER))
        self._paused[sink] = max(until, self._paused.get(sink, until))
        stats.count(sink, "throttled")
        log.info("sink_throttled", wait_s=round(delay, 2))

    def _park(self, delivery: Delivery, reason: str, stats: DeliveryStats) -> None:
        self._ack(delivery, DeliveryStatus.PARKED, self._clock(), reason)
        stats.count(delivery.sink, "parked")
        self._telemetry.delivery_finished(delivery.sink, "parked", None)
        # An alert that never arrived is an error; an edit that cannot be made (a message past
        # Telegram's 48 hours) leaves the alert as it was sent, which is worth a warning.
        report = self._log.warning if delivery.edit else self._log.error
        report(
            "alert_edit_parked" if delivery.edit else "alert_parked",
            alert=delivery.alert.id,
            watchlist=delivery.alert.watchlist,
            sink=delivery.sink,
            error=reason,
        )


def _settle_key(delivery: Delivery) -> tuple[str, str, bool, int]:
    return (delivery.alert.id, delivery.sink, delivery.edit, delivery.claim)


def _ack_for(
    delivery: Delivery,
    status: DeliveryStatus,
    at: datetime | None,
    error: str = "",
    receipt: str | None = None,
) -> Ack:
    """The outcome of a claimed delivery, addressed to its claim (and to its edit entry if it is one)."""
    return Ack(delivery.alert.id, delivery.sink, delivery.claim, status, at, error, receipt, delivery.edit)

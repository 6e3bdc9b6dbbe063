"""One feed poll, start to finish: fetch → read (the feed's source kind) → unseen → match → outbox →
remember.

The pipeline receives its adapters (fetcher, store) and the current matcher; it builds nothing itself.
The order of its writes is what makes "never silently missed" hold: alerts go into the durable outbox
before the items are remembered as seen, so a crash in between replays the match (and the outbox drops
the repeat by alert id) instead of losing it.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from service.errors import FeedError, FeedParseError, FetchError
from service.events.anchors import AnchorFinder, default_finder
from service.events.link import Report, report_of
from service.feeds.fetch import FetchResult
from service.feeds.html import decode_html, extract_article
from service.feeds.schedule import next_state_after_failure, next_state_after_success
from service.logs import Logger
from service.match import Matcher
from service.models import Alert, Breaking, Feed, FeedState, Item, Match, Outlet, Reading
from service.state.fingerprint import fingerprint
from service.state.protocol import PipelineStore
from service.telemetry import NullTelemetry, Telemetry

TEASER_CHARS = 400
MEMORY_PER_FEED = 2000
LEARN_AFTER = 20


class FeedFetcher(Protocol):
    async def fetch_feed(self, url: str, *, etag: str | None, last_modified: str | None) -> FetchResult: ...

    async def fetch_article(self, url: str) -> FetchResult: ...


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed: str
    status: str  # fetched | not_modified | failed | disabled
    items: int = 0
    new: int = 0
    alerts: int = 0
    error: str | None = None
    next_poll: datetime | None = None  # None: do not schedule (disabled)


@dataclass(frozen=True, slots=True)
class Matched:
    item: Item
    matches: tuple[Match, ...]
    report: Report


@dataclass(frozen=True, slots=True)
class Schedule:
    min_interval: float = 60.0
    max_interval: float = 3600.0


def alert_id(watchlist: str, event: str) -> str:
    """One id per (watchlist, event): the same on every replica, restart and retry."""
    return hashlib.sha256(f"{watchlist}\x1f{event}".encode()).hexdigest()[:32]


def breaking_id(watchlist: str, event: str) -> str:
    """The id of an event's breaking alert: its own, so it is sent once beside the first."""
    return alert_id(watchlist, f"{event}\x1fbreaking")


def story_key(item: Item) -> str:
    """The item's key in the event index (item ids are unique per feed)."""
    return f"{item.feed}\x1f{item.id}"


def breaking_outlets(outlets: tuple[Outlet, ...], rule: Breaking, current: str) -> tuple[Outlet, ...] | None:
    """The outlets that make an event breaking under `rule` now that `current` (a feed) reported it:
    `rule.outlets` distinct outlets published within `rule.within` of each other, `current` among
    them, or None. A copy published hours after the rush does not make an old rush breaking."""
    ordered = sorted(outlets, key=lambda o: o.at)
    for start, first in enumerate(ordered):
        window = [o for o in ordered[start:] if o.at - first.at <= rule.within]
        if len({o.feed for o in window}) >= rule.outlets and any(o.feed == current for o in window):
            return tuple(window)
    return None


def alertable(items: Sequence[Item], *, first_poll: bool, backfill: float, now: datetime) -> list[Item]:
    """On a feed's first poll only items published within `backfill` alert; afterwards every new item does.

    Undated items (and items dated in the future, which the item builder stamps with `now`) count as
    undated: on a first poll they are only remembered, unless backfill is "all".
    """
    if not first_poll or backfill == float("inf"):
        return list(items)
    if backfill <= 0:
        return []
    since = now - timedelta(seconds=backfill)
    return [i for i in items if i.published is not None and since <= i.published < now]


class Pipeline:
    def __init__(
        self,
        *,
        store: PipelineStore,
        fetcher: FeedFetcher,
        matcher: Callable[[], Matcher],
        routes: Callable[[], Mapping[str, tuple[str, ...]]],
        clock: Callable[[], datetime],
        anchors: Callable[[], AnchorFinder] = default_finder,
        breaking: Callable[[], Mapping[str, Breaking]] = dict,
        log: Logger,
        schedule: Schedule | None = None,
        rng: random.Random | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._matcher = matcher
        self._routes = routes
        self._anchors = anchors
        self._breaking = breaking
        self._clock = clock
        self._log = log
        self._schedule = schedule or Schedule()
        self._rng = rng or random.Random()
        self._telemetry: Telemetry = telemetry or NullTelemetry()
        # What each feed's last poll held, kept in the process: if the store loses its data (a Redis
        # restart without persistence) this keeps old news from replaying and marks the feed as known.
        # Compact, for 50,000 feeds: each id as 8 bytes of its hash, one bytes object per feed.
        self._memory: dict[str, bytes] = {}

    async def poll(self, feed: Feed, *, fence: int | None = None, late: float | None = None) -> PollOutcome:
        """Poll one feed. With `fence` (a lease's token) the feed state is written only while that
        lease is still the newest, so a replica that lost its lease cannot overwrite a newer poll.
        `late` (seconds after its due time the poll started) is kept in the feed state."""
        started = self._clock()
        outcome = await self._poll_once(feed, fence, late)
        duration = (self._clock() - started).total_seconds()
        self._telemetry.poll_finished(feed.name, outcome.status, duration, outcome.items, outcome.new)
        return outcome

    async def _poll_once(self, feed: Feed, fence: int | None, late: float | None) -> PollOutcome:
        log = self._log.bind(feed=feed.name)
        state = await self._store.get_feed_state(feed.name)
        if state is None and feed.name in self._memory:
            log.warning("feed_state_missing", reason="the store lost this feed's state; using the last poll")
        if state is not None and state.disabled_reason:
            return PollOutcome(feed.name, "disabled", error=state.disabled_reason)
        current = replace(state or FeedState(name=feed.name), late=late)
        try:
            return await self._poll(
                feed, current, fence, first=state is None and feed.name not in self._memory, log=log
            )
        except FeedError as exc:
            return await self._failed(feed, current, exc, fence, log)

    async def _poll(
        self, feed: Feed, state: FeedState, fence: int | None, *, first: bool, log: Logger
    ) -> PollOutcome:
        url = state.url or feed.url
        started = self._clock()
        result = await self._fetcher.fetch_feed(url, etag=state.etag, last_modified=state.last_modified)
        if result.permanent_url and result.permanent_url != url:
            log.warning("feed_moved", url=url, new_url=result.permanent_url)
        if result.not_modified:
            done = await self._succeeded(feed, state, result, None, [], fence, log)
            log.debug("feed_not_modified", duration_ms=_ms(started, self._clock()))
            return PollOutcome(feed.name, "not_modified", next_poll=done.next_poll)
        body_hash = hashlib.blake2b(result.body, digest_size=16).hexdigest()
        if state.body_hash is not None and body_hash == state.body_hash:
            # The same bytes as last time (a server that ignores conditional GET): nothing is new.
            done = await self._succeeded(feed, state, result, None, [], fence, log)
            log.debug("feed_unchanged", duration_ms=_ms(started, self._clock()))
            return PollOutcome(feed.name, "unchanged", next_poll=done.next_poll)
        # One `now` for building and for judging items: an undated item is stamped with it, and the
        # backfill rule recognises it by exactly that stamp.
        now = self._clock()
        reading = await asyncio.to_thread(feed.reader.read, feed, result, now)
        if reading.malformed:
            log.warning("feed_malformed", reason=reading.malformed, items=len(reading.ids))
        alerts, new, state = await self._process(feed, state, reading, now, first=first, log=log)
        dated = [d for d in reading.dates if d is not None and d < now]
        done = await self._succeeded(
            feed, replace(state, body_hash=body_hash), result, reading, dated, fence, log
        )
        log.info(
            "feed_fetched",
            items=len(reading.ids),
            new=new,
            alerts=alerts,
            first_poll=first,
            duration_ms=_ms(started, self._clock()),
        )
        return PollOutcome(
            feed.name, "fetched", items=len(reading.ids), new=new, alerts=alerts, next_poll=done.next_poll
        )

    async def _process(
        self, feed: Feed, state: FeedState, reading: Reading, now: datetime, *, first: bool, log: Logger
    ) -> tuple[int, int, FeedState]:
        """Ask the store which entries are new, build only those, match them; returns the alerts
        made, the count of new items and the state with what was learned of the feed's language."""
        remembered = _unpack(self._memory.get(feed.name, b""))
        unseen = set(await self._store.unseen_items(feed.name, list(reading.ids), now))
        unseen = {i for i in unseen if _short(i) not in remembered}
        fresh_ids = [i for i in reading.ids if i in unseen]
        # A first poll alerts only within `backfill`: the rest is remembered, never built.
        wanted = _may_alert(reading, fresh_ids, first=first, backfill=feed.backfill, now=now)
        fresh, state = await self._build(feed, state, reading, wanted)
        candidates = alertable(fresh, first_poll=first, backfill=feed.backfill, now=now)
        if feed.full_text:
            candidates = [await self._with_full_text(i, log) for i in candidates]
        alerts = await self._enqueue(await asyncio.to_thread(self._match, candidates, now), now, log)
        await self._store.remember_items(feed.name, fresh_ids, now)
        self._memory[feed.name] = b"".join(_short(i) for i in reading.ids[:MEMORY_PER_FEED])
        return alerts, len(fresh_ids), state

    async def _build(
        self, feed: Feed, state: FeedState, reading: Reading, ids: list[str]
    ) -> tuple[list[Item], FeedState]:
        """Build the new items. A feed that declares no language learns one once LEARN_AFTER items
        in a row were detected as it; the first new item of every later poll is still detected, and
        a disagreement unlearns it (and those items are built again, detected)."""
        if not ids:
            return [], state
        if reading.declared_language is not None:
            return await asyncio.to_thread(reading.build, set(ids), None), state
        learned = learned_language(state)
        if learned is None:
            items = await asyncio.to_thread(reading.build, set(ids), None)
            return items, _learn(state, [i.language for i in items])
        # `ids` are in feed order, so the probe (the first) and the rest keep it when joined.
        probe = await asyncio.to_thread(reading.build, {ids[0]}, None)
        if probe and probe[0].language != learned:
            items = await asyncio.to_thread(reading.build, set(ids), None)
            return items, replace(state, language=None, language_items=0)
        items = [*probe, *await asyncio.to_thread(reading.build, set(ids[1:]), learned)]
        return items, replace(state, language_items=state.language_items + len(items))

    def _match(self, items: list[Item], now: datetime) -> list[Matched]:
        """Match each item; read the anchors and fingerprint of those that matched (the event index
        needs no others)."""
        matcher, finder, out = self._matcher(), self._anchors(), []
        for item in items:
            matches = matcher.match(item)
            if matches:
                text = item.content or item.summary
                at = _moment(item, now)
                report = report_of(at, finder.find(item), fingerprint(item.title, text))
                out.append(Matched(item, matches, report))
        return out

    async def _enqueue(self, matched: list[Matched], now: datetime, log: Logger) -> int:
        """One alert per (watchlist, event): a later copy of an event, in any language, only adds its
        outlet to that alert (and may make it breaking)."""
        routes, rules, count = self._routes(), self._breaking(), 0
        for entry in matched:
            item = entry.item
            outlet = Outlet(item.feed, item.language, item.url, entry.report.at)
            event = await self._store.find_or_add_event(story_key(item), entry.report, outlet, now)
            self._telemetry.event_decided(event.how)
            if event.refused:
                log.debug("event_kept_apart", item=item.id, refused=dict(event.refused))
            others = tuple(o for o in event.outlets if o.feed != item.feed)
            for match in entry.matches:
                self._telemetry.matched(match.watchlist)
                alert = Alert(alert_id(match.watchlist, event.event_id), match.watchlist, item, match, others)
                sinks = routes.get(match.watchlist, ())
                if await self._store.enqueue_alert(alert, sinks, now):
                    count += 1
                    self._telemetry.alert_created(match.watchlist)
                    log.info(
                        "alert_created",
                        alert=alert.id,
                        watchlist=match.watchlist,
                        item=item.id,
                        event_id=event.event_id,
                        linked=event.how,
                        sinks=list(sinks),
                    )
                elif not event.is_new:
                    # The alert went out (or will) with the first copy; name this outlet in it, and
                    # have the messages already sent edited where the sink can.
                    edits = await self._store.note_outlets(alert.id, sinks, event.outlets, now)
                    log.info(
                        "story_also_reported",
                        alert=alert.id,
                        watchlist=match.watchlist,
                        item=item.id,
                        event_id=event.event_id,
                        linked=event.how,
                        outlets=[o.feed for o in event.outlets],
                        edits=edits,
                    )
                rule = rules.get(match.watchlist)
                if rule is not None:
                    count += await self._breaking_alert(
                        alert, event.event_id, event.outlets, rule, sinks, now, log
                    )
        return count

    async def _breaking_alert(
        self,
        alert: Alert,
        event: str,
        outlets: tuple[Outlet, ...],
        rule: Breaking,
        sinks: tuple[str, ...],
        now: datetime,
        log: Logger,
    ) -> int:
        """The event's one breaking alert, once it has reached the rule's outlets (its id makes a
        repeat, on this replica or another, add nothing)."""
        reached = breaking_outlets(outlets, rule, alert.item.feed)
        if reached is None:
            return 0
        first = reached[0]
        listed = tuple(o for o in outlets if o.feed != alert.item.feed)
        extra = Alert(
            breaking_id(alert.watchlist, event), alert.watchlist, alert.item, alert.match, listed, True
        )
        if not await self._store.enqueue_alert(extra, sinks, now):
            return 0
        self._telemetry.alert_created(alert.watchlist)
        log.info(
            "alert_breaking",
            alert=extra.id,
            watchlist=alert.watchlist,
            event_id=event,
            outlets=[o.feed for o in reached],
            since=first.at,
            sinks=list(sinks),
        )
        return 1

    async def _with_full_text(self, item: Item, log: Logger) -> Item:
        if len(item.content) >= TEASER_CHARS or not item.url.startswith(("http://", "https://")):
            return item
        try:
            page = await self._fetcher.fetch_article(item.url)
            page_html = decode_html(page.body, page.headers.get("content-type"))
            text = await asyncio.to_thread(extract_article, page_html)
        except FeedError as exc:
            log.warning("article_fetch_failed", url=item.url, error=str(exc))
            return item
        return replace(item, content=text) if len(text) > len(item.content) else item

    async def _succeeded(
        self,
        feed: Feed,
        state: FeedState,
        result: FetchResult,
        reading: Reading | None,
        item_dates: list[datetime],
        fence: int | None,
        log: Logger,
    ) -> FeedState:
        now = self._clock()
        # A feed with an interval of its own keeps it; the others follow their publishing cadence.
        bounds = (self._schedule.min_interval, self._schedule.max_interval) if feed.adaptive else (None, None)
        new_state = next_state_after_success(
            state,
            now=now,
            interval=feed.interval,
            result=result,
            ttl_seconds=reading.ttl_seconds if reading else None,
            item_dates=item_dates,
            min_interval=bounds[0],
            max_interval=bounds[1],
        )
        if new_state.first_polled is None:
            new_state = replace(new_state, first_polled=now)
        await self._save_state(new_state, fence, log)
        return new_state

    async def _save_state(self, state: FeedState, fence: int | None, log: Logger) -> None:
        if fence is None:
            await self._store.put_feed_state(state)
        elif not await self._store.put_feed_state_fenced(state, fence):
            # Another replica holds a newer lease on this feed: its state wins. Alerts already
            # recorded stay once-only through their ids.
            log.warning("lease_lost", reason="a newer lease exists; this poll's feed state was not saved")

    async def _failed(
        self, feed: Feed, state: FeedState, exc: FeedError, fence: int | None, log: Logger
    ) -> PollOutcome:
        error = str(exc) or type(exc).__name__
        reason = exc if isinstance(exc, FetchError | FeedParseError) else FetchError(error)
        new_state = next_state_after_failure(
            state, now=self._clock(), interval=feed.interval, error=reason, rng=self._rng
        )
        await self._save_state(new_state, fence, log)
        if new_state.disabled_reason:
            # 410 Gone, or too many failures in a row: stop polling and say so loudly.
            log.error(
                "feed_disabled", reason=new_state.disabled_reason, error=error, url=state.url or feed.url
            )
            return PollOutcome(feed.name, "disabled", error=new_state.disabled_reason)
        log.warning("feed_failed", error=error, failures=new_state.failures, url=state.url or feed.url)
        return PollOutcome(feed.name, "failed", error=error, next_poll=new_state.next_poll)


def _may_alert(reading: Reading, ids: list[str], *, first: bool, backfill: float, now: datetime) -> list[str]:
    """The new ids `alertable` could keep, judged from the entries' dates alone (as it judges)."""
    if not first or backfill == float("inf"):
        return ids
    if backfill <= 0:
        return []
    since, wanted = now - timedelta(seconds=backfill), set(ids)
    dated = zip(reading.ids, reading.dates, strict=True)
    return [i for i, d in dated if i in wanted and d is not None and since <= d < now]


def learned_language(state: FeedState) -> str | None:
    """The language a feed learned (LEARN_AFTER items in a row detected as it), if any."""
    return state.language if state.language_items >= LEARN_AFTER else None


def _learn(state: FeedState, languages: list[str | None]) -> FeedState:
    """Count detected languages in a row: one language throughout adds up, any other starts over."""
    if not languages or None in languages or len(set(languages)) > 1:
        return replace(state, language=None, language_items=0)
    language = languages[0]
    so_far = state.language_items if state.language == language else 0
    return replace(state, language=language, language_items=so_far + len(languages))


def _short(item_id: str) -> bytes:
    """An item id as the process memory keeps it: 8 bytes of its hash."""
    return hashlib.blake2b(item_id.encode(), digest_size=8).digest()


def _unpack(packed: bytes) -> set[bytes]:
    return {packed[i : i + 8] for i in range(0, len(packed), 8)}


def _moment(item: Item, now: datetime) -> float:
    """When a copy was published (epoch seconds): its own date, never later than `now`."""
    moment = item.published or item.updated or now
    return min(moment, now).timestamp()


def _ms(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() * 1000)

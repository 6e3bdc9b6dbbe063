"""The Redis store (`redis://`, `rediss://`): shared by any number of replicas.

Each operation is one round trip, most of them a Lua script (redis_lua.py), which also makes them
atomic across replicas. Every key lives under one prefix, spelled out in `Keys`. Lease expiry runs on
the Redis server's clock; everything else compares the `now` the caller passes.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.errors import StoreError
from service.events.link import MAX_CANDIDATES, POSTINGS, EventRecord, Report
from service.models import Alert, FeedState, Outlet
from service.redact import hide_password
from service.registry import StoreSettings, StoreType
from service.state import redis_lua
from service.state.codec import (
    decode_alert,
    decode_feed_state,
    encode_alert,
    encode_feed_state,
    encode_outlet,
)
from service.state.event_index import EventRequest, known_event, plan
from service.state.protocol import Ack, Delivery, DeliveryStatus, EventMatch, ScheduleGlance, parse_slot

_SEP = "\x1f"
CLAIM_SCAN_FACTOR = 4  # a claim scans at most this many times `limit` due members (others' claims)
ACK_CHUNK = 500  # acks per script call, so that one call never holds the server for long
EVENT_ATTEMPTS = 50  # WATCH conflicts tolerated for one event decision before the poll fails
CLIENT_NAME = "newsalert"  # shown by CLIENT LIST, so an operator can tell these connections apart
_SCRIPTS = {
    "unseen": redis_lua.UNSEEN_ITEMS,
    "remember": redis_lua.REMEMBER_ITEMS,
    "enqueue": redis_lua.ENQUEUE,
    "claim_due": redis_lua.CLAIM_DUE,
    "ack": redis_lua.ACK_DELIVERIES,
    "note_outlets": redis_lua.NOTE_OUTLETS,
    "event_candidates": redis_lua.EVENT_CANDIDATES,
    "file_event": redis_lua.FILE_EVENT,
    "acquire": redis_lua.ACQUIRE_LEASE,
    "renew": redis_lua.RENEW_LEASE,
    "release": redis_lua.RELEASE_LEASE,
    "put_fenced": redis_lua.PUT_FEED_STATE_FENCED,
}


@dataclass(frozen=True, slots=True)
class Keys:
    """Every key newsalert writes, in one place."""

    prefix: str = "newsalert:"

    def feed(self, name: str) -> str:
        return f"{self.prefix}feed:{name}"

    @property
    def feeds(self) -> str:
        return f"{self.prefix}feeds"

    def seen(self, feed: str) -> str:
        return f"{self.prefix}seen:{feed}"

    def alert(self, alert_id: str) -> str:
        return f"{self.alert_prefix}{alert_id}"

    @property
    def delivery_prefix(self) -> str:
        return f"{self.prefix}delivery:"

    @property
    def alert_prefix(self) -> str:
        return f"{self.prefix}alert:"

    @property
    def due(self) -> str:
        return f"{self.prefix}outbox:due"

    @property
    def index(self) -> str:
        return f"{self.prefix}outbox:all"

    def event(self, event_id: str) -> str:
        """An event's record (JSON: reports, outlets, logical expiry)."""
        return f"{self.prefix}event:{event_id}"

    def event_item(self, item_key: str) -> str:
        """The event an item joined (item keys are hashed: they hold feed names and URLs)."""
        return f"{self.prefix}eventitem:{hashlib.blake2b(item_key.encode(), digest_size=8).hexdigest()}"

    def event_key(self, key: str) -> str:
        """The events filed under one index key (a sorted set, newest last): anchor keys are hashed,
        as they hold names in any script."""
        return f"{self.prefix}eventkey:{hashlib.blake2b(key.encode(), digest_size=10).hexdigest()}"

    @property
    def schedule(self) -> str:
        return f"{self.prefix}schedule"

    def lease(self, feed: str) -> str:
        return f"{self.prefix}lease:{feed}"

    def fence(self, feed: str) -> str:
        """The latest fencing token granted for a feed."""
        return f"{self.prefix}fence:{feed}"


class RedisStore:
    """The store on a Redis server, shared by replicas.

    A connection the server dropped (a restart, `CLIENT KILL`, a network blip) is reopened by the
    client's retry with backoff (5 tries over about 3 s); only then does a call raise StoreError. A
    script the restarted server forgot is loaded again by redis-py on NOSCRIPT.
    """

    def __init__(
        self,
        url: str,
        *,
        seen_ttl: float = 30 * 86400.0,
        story_ttl: float = 3 * 86400.0,
        prefix: str = "newsalert:",
    ) -> None:
        self._url = url
        self.seen_ttl = seen_ttl
        self.story_ttl = story_ttl
        self.keys = Keys(prefix)
        self._redis: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"RedisStore({hide_password(self._url)!r})"

    async def open(self) -> None:
        retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=5)
        try:
            self._redis = aioredis.Redis.from_url(
                self._url,
                decode_responses=True,
                retry=retry,
                health_check_interval=30,
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
                socket_connect_timeout=5,
                socket_timeout=10,
                client_name=CLIENT_NAME,
            )
        except ValueError as exc:
            raise StoreError(f"invalid Redis URL {hide_password(self._url)}: {exc}") from None
        self._scripts = {name: self._redis.register_script(text) for name, text in _SCRIPTS.items()}

    async def _script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self._call(self._scripts[name](keys=keys, args=args))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise StoreError("the Redis store is not open")
        return self._redis

    async def ping(self) -> None:
        await self._call(self.redis.ping())

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except RedisError as exc:
            raise StoreError(f"redis: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"redis: {exc}") from exc

    # -- feeds ------------------------------------------------------------------------------------

    async def get_feed_state(self, feed: str) -> FeedState | None:
        text = await self._call(self.redis.get(self.keys.feed(feed)))
        return None if text is None else decode_feed_state(text)

    async def put_feed_state(self, state: FeedState) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.keys.feed(state.name), encode_feed_state(state))
        pipe.sadd(self.keys.feeds, state.name)
        await self._call(pipe.execute())

    async def put_feed_state_fenced(self, state: FeedState, token: int) -> bool:
        keys = [self.keys.feed(state.name), self.keys.feeds, self.keys.fence(state.name)]
        return bool(await self._script("put_fenced", keys, [encode_feed_state(state), state.name, token]))

    async def all_feed_states(self) -> list[FeedState]:
        names = sorted(await self._call(self.redis.smembers(self.keys.feeds)))
        if not names:
            return []
        texts = await self._call(self.redis.mget([self.keys.feed(n) for n in names]))
        return [decode_feed_state(t) for t in texts if t is not None]

    # -- seen items -------------------------------------------------------------------------------

    async def unseen_items(self, feed: str, ids: Sequence[str], now: datetime) -> list[str]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        positions = await self._script("unseen", [self.keys.seen(feed)], [now.timestamp(), *wanted])
        return [wanted[i] for i in positions]

    async def remember_items(self, feed: str, ids: Sequence[str], now: datetime) -> None:
        if not ids:
            return
        stamp = now.timestamp()
        args = [stamp, stamp + self.seen_ttl, int(self.seen_ttl) + 86400, *dict.fromkeys(ids)]
        await self._script("remember", [self.keys.seen(feed)], args)

    # -- stories ----------------------------------------------------------------------------------

    async def find_or_add_event(
        self, item_key: str, report: Report, outlet: Outlet, now: datetime
    ) -> EventMatch:
        """Optimistic and atomic: the keys read are WATCHed, the writes go in one MULTI; a replica
        that changed any of them in between makes the EXEC fail, and the decision is taken again on
        what it wrote. Contention only costs retries; the answer is the one a serial run gives."""
        request = EventRequest(item_key, report, outlet, now.timestamp(), self.story_ttl)
        for attempt in range(EVENT_ATTEMPTS):
            try:
                match: EventMatch = await self._call(self._event_attempt(request))
                return match
            except StoreError as exc:
                if not isinstance(exc.__cause__, WatchError) or attempt == EVENT_ATTEMPTS - 1:
                    raise
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise StoreError("redis: the event index stayed contended")  # pragma: no cover

    async def _event_attempt(self, req: EventRequest) -> EventMatch:
        keys = self.keys
        item_key, own_key = keys.event_item(req.item_key), keys.event(req.own_id)
        lookup = req.report.lookup_keys()
        async with self.redis.pipeline(transaction=True) as watching:
            await watching.watch(item_key, own_key, *(keys.event_key(k) for k in lookup))
            pointer = str(found) if (found := await self.redis.get(item_key)) else None
            known = known_event(req, *await self._event_records([pointer, req.own_id], req.now))
            if known is not None:
                await watching.unwatch()  # type: ignore[no-untyped-call]
                return known.match
            index = [keys.event_key(k) for k in lookup]
            candidates = await self._scripts["event_candidates"](keys=index, args=[POSTINGS, MAX_CANDIDATES])
            if candidates:
                await watching.watch(*(keys.event(e) for e in candidates))
            records = [r for r in await self._event_records(candidates, req.now) if r is not None]
            decided = plan(req, records)
            record = decided.record
            assert record is not None
            ttl = max(1, int(req.ttl * 1000))
            watching.multi()  # type: ignore[no-untyped-call]
            filed = [keys.event(record.id), item_key, *(keys.event_key(k) for k in decided.index)]
            args = [record.id, record.encode(), ttl, req.now, POSTINGS]
            await self._scripts["file_event"](keys=filed, args=args, client=watching)
            await watching.execute()
            return decided.match

    async def _event_records(self, ids: Sequence[str | None], now: float) -> list[EventRecord | None]:
        """The live records of `ids`, None for an id without one (or None)."""
        names = [self.keys.event(i) for i in ids if i]
        texts = iter(await self.redis.mget(names) if names else [])
        out: list[EventRecord | None] = []
        for event in ids:
            text = next(texts) if event else None
            record = EventRecord.decode(text) if text else None
            out.append(record if record is not None and record.expires > now else None)
        return out

    # -- schedule and leases ----------------------------------------------------------------------
    # Due times use the `now` the caller passes; lease expiry uses the Redis server's clock (PX), so
    # `now` is not consulted there and replicas with slightly skewed clocks still agree on a holder.

    async def schedule_feed(self, feed: str, at: datetime, *, if_absent: bool = False) -> None:
        await self._call(self.redis.zadd(self.keys.schedule, {feed: at.timestamp()}, nx=if_absent))

    async def schedule_feeds(self, due: Mapping[str, datetime], *, if_absent: bool = False) -> None:
        scores = {name: at.timestamp() for name, at in due.items()}
        for start in range(0, len(scores), 5000):  # bounded commands, so one call never stalls Redis
            chunk = dict(itertools.islice(scores.items(), start, start + 5000))
            await self._call(self.redis.zadd(self.keys.schedule, chunk, nx=if_absent))

    async def unschedule_feed(self, feed: str) -> None:
        await self._call(self.redis.zrem(self.keys.schedule, feed))

    async def due_feeds(self, now: datetime, limit: int) -> list[str]:
        due = self.redis.zrangebyscore(self.keys.schedule, "-inf", now.timestamp(), 0, limit)
        return list(await self._call(due))

    async def glance(self, now: datetime, limit: int, *, count_all: bool = False) -> ScheduleGlance:
        key, stamp = self.keys.schedule, now.timestamp()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrangebyscore(key, "-inf", stamp, 0, limit, withscores=True)
        pipe.zcount(key, "-inf", stamp)
        pipe.zrangebyscore(key, f"({stamp}", "+inf", 0, 1, withscores=True)
        pipe.zcard(key)
        due, count, later, total = await self._call(pipe.execute())
        return ScheduleGlance(
            [(str(name), _at(score)) for name, score in due],
            int(count),
            _at(later[0][1]) if later else None,
            int(total) if count_all else None,
        )

    async def acquire_lease(self, feed: str, owner: str, ttl: float, now: datetime) -> int | None:
        keys = [self.keys.lease(feed), self.keys.fence(feed)]
        token = await self._script("acquire", keys, [owner, _ms(ttl)])
        return None if token is None else int(token)

    async def renew_lease(self, feed: str, owner: str, token: int, ttl: float, now: datetime) -> bool:
        args = [f"{token}{_SEP}{owner}", _ms(ttl)]
        return bool(await self._script("renew", [self.keys.lease(feed)], args))

    async def release_lease(self, feed: str, owner: str, token: int) -> None:
        await self._script("release", [self.keys.lease(feed)], [f"{token}{_SEP}{owner}"])

    # -- outbox -----------------------------------------------------------------------------------

    async def enqueue_alert(self, alert: Alert, sinks: Sequence[str], now: datetime) -> bool:
        keys = [self.keys.alert(alert.id), self.keys.due, self.keys.index, self.keys.delivery_prefix]
        args = [alert.id, encode_alert(alert), now.timestamp(), int(self.seen_ttl), *dict.fromkeys(sinks)]
        return bool(await self._script("enqueue", keys, args))

    async def note_outlets(
        self, alert_id: str, sinks: Sequence[str], outlets: Sequence[Outlet], now: datetime
    ) -> list[str]:
        names = list({o.feed: json.dumps(encode_outlet(o), ensure_ascii=False) for o in outlets}.values())
        keys = [self.keys.alert(alert_id), self.keys.due, self.keys.index]
        args = [
            self.keys.delivery_prefix,
            alert_id,
            now.timestamp(),
            len(names),
            *names,
            *dict.fromkeys(sinks),
        ]
        return list(await self._script("note_outlets", keys, args))

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 1000) -> list[Delivery]:
        """Oldest first, `limit` of them with `status`, however many of another status come before.

        The index is read a page at a time, statuses first; members whose delivery expired with the
        alert (`seen_ttl`) are dropped from the index and the due set on the way.
        """
        out: list[Delivery] = []
        start, page = 0, 1000
        while len(out) < limit:
            members = await self._call(self.redis.zrange(self.keys.index, start, start + page - 1))
            if not members:
                break
            pipe = self.redis.pipeline(transaction=False)
            for member in members:
                pipe.hget(self.keys.delivery_prefix + member, "status")
            statuses = await self._call(pipe.execute())
            dead = [m for m, found in zip(members, statuses, strict=True) if found is None]
            if dead:
                cleanup = self.redis.pipeline(transaction=False)
                cleanup.zrem(self.keys.index, *dead)
                cleanup.zrem(self.keys.due, *dead)
                await self._call(cleanup.execute())
            start += len(members) - len(dead)
            wanted = [
                m
                for m, found in zip(members, statuses, strict=True)
                if found is not None and (status is None or found == status.value)
            ]
            out.extend(await self._load(wanted))
        return out[:limit]

    async def _load(self, members: list[str]) -> list[Delivery]:
        if not members:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for member in members:
            alert_id, _, _ = member.partition(_SEP)
            pipe.hgetall(self.keys.delivery_prefix + member)
            pipe.get(self.keys.alert(alert_id))
        raw = await self._call(pipe.execute())
        out = []
        for member, fields, body in zip(members, raw[::2], raw[1::2], strict=True):
            if fields and body:
                out.append(_delivery(member, fields, body))
        return out

    async def outbox_depth(self) -> int:
        return int(await self._call(self.redis.zcard(self.keys.due)))

    async def claim_due(
        self, now: datetime, owner: str, ttl: float, limit: int = 100, *, skip_sinks: Collection[str] = ()
    ) -> list[Delivery]:
        if limit <= 0:
            return []
        args = [
            now.timestamp(),
            limit,
            owner,
            _ms(ttl),
            self.keys.delivery_prefix,
            self.keys.alert_prefix,
            limit * CLAIM_SCAN_FACTOR,
            *skip_sinks,
        ]
        rows = await self._script("claim_due", [self.keys.due], args)
        return [_claimed(*row) for row in rows]

    async def ack_deliveries(self, acks: Sequence[Ack]) -> list[bool]:
        applied: list[bool] = []
        keys = [self.keys.due, self.keys.index]
        for start in range(0, len(acks), ACK_CHUNK):
            args: list[Any] = [self.keys.delivery_prefix]
            for ack in acks[start : start + ACK_CHUNK]:
                stamp = 0.0 if ack.at is None else ack.at.timestamp()
                member = f"{ack.alert_id}{_SEP}{ack.slot}"
                args += [member, ack.token, ack.outcome, stamp, ack.error, ack.receipt or ""]
            applied += [bool(n) for n in await self._script("ack", keys, args)]
        return applied


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _claimed(
    member: str, attempts: str, next_at: str, error: str, token: int, body: str, receipt: str
) -> Delivery:
    sink, edit = parse_slot(member.partition(_SEP)[2])
    return Delivery(
        alert=decode_alert(body),
        sink=sink,
        status=DeliveryStatus.PENDING,
        attempts=int(attempts),
        next_attempt=datetime.fromtimestamp(float(next_at), UTC),
        last_error=error or None,
        claim=int(token),
        receipt=receipt or None,
        edit=edit,
    )


def _delivery(member: str, fields: dict[str, str], body: str) -> Delivery:
    sink, edit = parse_slot(member.partition(_SEP)[2])
    return Delivery(
        alert=decode_alert(body),
        sink=sink,
        status=DeliveryStatus(fields.get("status", "pending")),
        attempts=int(fields.get("attempts", 0)),
        next_attempt=datetime.fromtimestamp(float(fields.get("next", 0)), UTC),
        last_error=fields.get("error") or None,
        receipt=fields.get("receipt") or None,
        edit=edit,
    )


def _build(url: str, settings: StoreSettings) -> RedisStore:
    return RedisStore(url, seen_ttl=settings.seen_ttl, prefix=settings.key_prefix)


STORE = StoreType(
    "redis",
    schemes=("redis", "rediss", "unix"),
    build=_build,
    describe=lambda url: f"redis ({hide_password(url)})",
)


def _at(stamp: float) -> datetime:
    return datetime.fromtimestamp(float(stamp), UTC)

"""The Redis store (`redis://`, `rediss://`): shared by any number of replicas.

Each operation a poll needs is one round trip (a pipeline or a Lua script). Every key lives under one
prefix, spelled out in `Keys`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.errors import StoreError
from service.models import Alert, FeedState
from service.state.codec import decode_alert, decode_feed_state, encode_alert, encode_feed_state
from service.state.protocol import Delivery, DeliveryStatus

_SEP = "\x1f"

# KEYS: alert key, due zset, index zset; ARGV: alert id, body, now, ttl, sinks...
_ENQUEUE = """
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[4]) == false then return 0 end
for i = 5, #ARGV do
  local member = ARGV[1] .. '\\31' .. ARGV[i]
  redis.call('HSET', KEYS[4] .. member, 'status', 'pending', 'attempts', 0, 'next', ARGV[3])
  redis.call('EXPIRE', KEYS[4] .. member, ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[3], member)
  redis.call('ZADD', KEYS[3], ARGV[3], member)
end
return 1
"""
# KEYS: delivery hash, due zset; ARGV: status, next, error, member. Only a pending delivery moves.
_UPDATE = """
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'next', ARGV[2], 'error', ARGV[3])
if ARGV[1] == 'pending' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
else redis.call('ZREM', KEYS[2], ARGV[4]) end
return 1
"""


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
        return f"{self.prefix}alert:{alert_id}"

    @property
    def delivery_prefix(self) -> str:
        return f"{self.prefix}delivery:"

    @property
    def due(self) -> str:
        return f"{self.prefix}outbox:due"

    @property
    def index(self) -> str:
        return f"{self.prefix}outbox:all"


class RedisStore:
    def __init__(self, url: str, *, seen_ttl: float = 30 * 86400.0, prefix: str = "newsalert:") -> None:
        self._url = url
        self.seen_ttl = seen_ttl
        self.keys = Keys(prefix)
        self._redis: aioredis.Redis | None = None
        self._enqueue: Any = None
        self._update: Any = None

    async def open(self) -> None:
        retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=5)
        self._redis = aioredis.Redis.from_url(
            self._url,
            decode_responses=True,
            retry=retry,
            health_check_interval=30,
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_connect_timeout=5,
            socket_timeout=10,
        )
        self._enqueue = self._redis.register_script(_ENQUEUE)
        self._update = self._redis.register_script(_UPDATE)

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
        scores = await self._call(self.redis.zmscore(self.keys.seen(feed), wanted))
        stamp = now.timestamp()
        return [i for i, s in zip(wanted, scores, strict=True) if s is None or s <= stamp]

    async def remember_items(self, feed: str, ids: Sequence[str], now: datetime) -> None:
        if not ids:
            return
        expires = now.timestamp() + self.seen_ttl
        key = self.keys.seen(feed)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(key, dict.fromkeys(ids, expires))
        pipe.zremrangebyscore(key, "-inf", now.timestamp())
        pipe.expire(key, int(self.seen_ttl) + 86400)
        await self._call(pipe.execute())

    # -- outbox -----------------------------------------------------------------------------------

    async def enqueue_alert(self, alert: Alert, sinks: Sequence[str], now: datetime) -> bool:
        keys = [self.keys.alert(alert.id), self.keys.due, self.keys.index, self.keys.delivery_prefix]
        args = [alert.id, encode_alert(alert), now.timestamp(), int(self.seen_ttl), *dict.fromkeys(sinks)]
        return bool(await self._call(self._enqueue(keys=keys, args=args)))

    async def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        members = await self._call(self.redis.zrangebyscore(self.keys.due, "-inf", now.timestamp(), 0, limit))
        return await self._load(members)

    async def deliveries(self, status: DeliveryStatus | None = None, limit: int = 1000) -> list[Delivery]:
        members = await self._call(self.redis.zrange(self.keys.index, 0, limit - 1))
        found = await self._load(members)
        return [d for d in found if status is None or d.status is status]

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

    async def mark_delivered(self, alert_id: str, sink: str, now: datetime) -> None:
        await self._move(alert_id, sink, "delivered", now.timestamp(), "")

    async def schedule_retry(self, alert_id: str, sink: str, at: datetime, error: str) -> None:
        await self._move(alert_id, sink, "pending", at.timestamp(), error)

    async def park(self, alert_id: str, sink: str, reason: str, now: datetime) -> None:
        await self._move(alert_id, sink, "parked", now.timestamp(), reason)

    async def _move(self, alert_id: str, sink: str, status: str, at: float, error: str) -> None:
        member = f"{alert_id}{_SEP}{sink}"
        keys = [self.keys.delivery_prefix + member, self.keys.due]
        await self._call(self._update(keys=keys, args=[status, at, error, member]))


def _delivery(member: str, fields: dict[str, str], body: str) -> Delivery:
    _, _, sink = member.partition(_SEP)
    return Delivery(
        alert=decode_alert(body),
        sink=sink,
        status=DeliveryStatus(fields.get("status", "pending")),
        attempts=int(fields.get("attempts", 0)),
        next_attempt=datetime.fromtimestamp(float(fields.get("next", 0)), UTC),
        last_error=fields.get("error") or None,
    )

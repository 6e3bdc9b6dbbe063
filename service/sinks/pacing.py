"""Pacing sends so a destination's rate limit is respected before it has to answer 429.

`Pacer` keeps sliding windows ("at most N sends in any P seconds") per key and for all keys together,
and per-key pauses (a 429's `retry_after`). Time comes from an injected monotonic clock and waiting from
an injected sleep, so tests drive it with a fake clock. A wait longer than `max_wait` is not slept: it
raises `Throttled` so the outbox sets the whole sink aside until then instead of holding a worker.

Telegram's numbers (Bot API FAQ, python-telegram-bot's FloodLimit; Telegram says they vary): about 30
messages a second per bot across chats, about 1 a second per chat with short bursts allowed, and at most
20 a minute in a group or channel.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service.sinks.base import Throttled


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` events in any window of `period` seconds."""

    count: int
    period: float


class Window:
    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits."""
        while self._stamps and self._stamps[0] <= now - self.rate.period:
            self._stamps.popleft()
        if len(self._stamps) < self.rate.count:
            return 0.0
        return self._stamps[len(self._stamps) - self.rate.count] + self.rate.period - now

    def record(self, now: float) -> None:
        self._stamps.append(now)


TELEGRAM_GLOBAL = Rate(30, 1.0)
TELEGRAM_CHAT = Rate(3, 3.0)  # about 1 a second, a burst of 3 allowed
TELEGRAM_GROUP = Rate(20, 60.0)


def is_group_chat(chat: str) -> bool:
    """Groups, supergroups and channels have negative ids; `@name` addresses a public channel."""
    return chat.startswith(("-", "@"))


class Pacer:
    """Sliding-window pacing per key and overall; shared by every sink that sends through one account."""

    def __init__(
        self,
        *,
        overall: Rate | None = TELEGRAM_GLOBAL,
        per_key: Rate = TELEGRAM_CHAT,
        per_group: Rate | None = TELEGRAM_GROUP,
        max_wait: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._overall = Window(overall) if overall else None
        self._per_key, self._per_group = per_key, per_group
        self._windows: dict[str, list[Window]] = {}
        self._paused: dict[str, float] = {}
        self._halted = 0.0
        self.max_wait = max_wait
        self.clock, self._sleep = clock, sleep

    async def wait_turn(self, key: str) -> None:
        """Return when one more send to `key` fits every limit; raise Throttled if that is far off."""
        started = self.clock()
        while True:
            now = self.clock()
            wait = self.wait_for(key, now)
            if wait <= 0:
                for window in self._for(key):
                    window.record(now)
                return
            if now + wait - started > self.max_wait:
                raise Throttled(f"paced: next send to this destination in {wait:.1f}s", wait)
            await self._sleep(wait)

    def wait_for(self, key: str, now: float) -> float:
        """Seconds until `key` may send (0 when it may now)."""
        pause = max(self._paused.get(key, 0.0), self._halted) - now
        return max(0.0, pause, *(w.wait(now) for w in self._for(key)))

    def pause(self, key: str, seconds: float) -> None:
        """No send to `key` for `seconds` (a 429's retry_after); other keys carry on."""
        until = self.clock() + max(0.0, seconds)
        self._paused[key] = max(self._paused.get(key, 0.0), until)

    def halt(self, seconds: float) -> None:
        """No send to any key for `seconds` (the account itself was refused)."""
        self._halted = max(self._halted, self.clock() + seconds)

    def _for(self, key: str) -> list[Window]:
        windows = self._windows.get(key)
        if windows is None:
            windows = [Window(self._per_key)]
            if self._per_group and is_group_chat(key):
                windows.append(Window(self._per_group))
            self._windows[key] = windows
        return windows + ([self._overall] if self._overall else [])

"""Several `newsalert run` processes on one Redis: each feed polled by one replica at a time, every
alert delivered once, a SIGKILLed replica's feeds taken over, and a Redis that restarts empty under a
running worker neither replays old news nor misses new news.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import REDIS_URL
from tests.peers import Receiver, collect_stderr, free_port, until

FEEDS = 4


@dataclass
class Feeds:
    """Feeds the test publishes into; counts every request each feed receives."""

    items: dict[int, list[str]] = field(default_factory=lambda: {i: [] for i in range(FEEDS)})
    hits: Counter[int] = field(default_factory=Counter)
    base: str = ""

    def publish(self, feed: int, guid: str) -> None:
        self.items[feed].insert(0, guid)

    def body(self, feed: int) -> str:
        now = format_datetime(datetime.now(UTC))
        entries = "".join(
            f"<item><guid>{escape(g)}</guid><title>rocket report {escape(g)}</title>"
            f"<link>https://n.example/{escape(g)}</link><pubDate>{now}</pubDate></item>"
            for g in self.items[feed]
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{feed}</title>{entries}</channel></rss>'


@pytest.fixture
async def feeds() -> AsyncIterator[Feeds]:
    state = Feeds()

    async def handle(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        state.hits[i] += 1
        return web.Response(text=state.body(i), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed/{i}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.base = str(server.make_url("/feed/"))
    yield state
    await server.close()


def write_config(path: Path, feeds: Feeds, receiver: Receiver, store: str, prefix: str) -> None:
    blocks = "".join(
        f'[[feeds]]\nname = "f{i}"\nurl = "{feeds.base}{i}"\ninterval = "1s"\n' for i in range(FEEDS)
    )
    path.write_text(
        f'[service]\nstore = "{store}"\nkey_prefix = "{prefix}"\nhttp_port = 0\nlog_format = "json"\n'
        f'lease_ttl = "3s"\ngrace_period = "3s"\n\n{blocks}'
        '[[watchlists]]\nname = "rockets"\nquery = "rocket"\nsinks = ["hook"]\n'
        f'[sinks.hook]\ntype = "webhook"\nurl = "{receiver.url}"\n'
    )


@dataclass
class Replica:
    proc: asyncio.subprocess.Process
    stderr: list[str] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, object]]:
        out = []
        for line in self.stderr:
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == name:
                    out.append(event)
        return out


@pytest.fixture
async def start_replica(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    replicas: list[Replica] = []

    async def start(config: Path) -> Replica:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "run",
            "--config",
            str(config),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        replica = Replica(proc)
        asyncio.get_running_loop().create_task(collect_stderr(proc, replica.stderr))
        replicas.append(replica)
        return replica

    yield start  # type: ignore[misc]
    for replica in replicas:
        if replica.proc.returncode is None:
            replica.proc.kill()
            await replica.proc.wait()


def received_guids(receiver: Receiver) -> list[str]:
    return [json.loads(body)["url"].rsplit("/", 1)[1] for _, body in receiver.requests]


async def stop(replica: Replica) -> int:
    replica.proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(replica.proc.wait(), 20)


async def test_two_replicas_share_the_polls_and_deliver_every_alert_once(
    tmp_path: Path,
    feeds: Feeds,
    receiver: Receiver,
    start_replica,
    redis_client,
    redis_prefix: str,  # type: ignore[no-untyped-def]
) -> None:
    config = tmp_path / "config.toml"
    write_config(config, feeds, receiver, REDIS_URL, redis_prefix)
    first, second = await start_replica(config), await start_replica(config)
    await until(lambda: sum(feeds.hits.values()) >= FEEDS, timeout=30)
    await asyncio.sleep(1.5)
    for n in range(12):
        feeds.publish(n % FEEDS, f"item{n}")
        await asyncio.sleep(0.3)
    await until(lambda: len(set(received_guids(receiver))) == 12, timeout=30)
    await asyncio.sleep(3)  # more polls by both replicas
    guids = received_guids(receiver)
    assert sorted(guids) == sorted(f"item{n}" for n in range(12)), "every alert exactly once"
    # Both replicas worked, and together they polled no more than one process would (1 s interval).
    window = 12 * 0.3 + 5
    assert first.events("feed_fetched") and second.events("feed_fetched")
    for i in range(FEEDS):
        assert feeds.hits[i] <= (window + 8) / 1.0 + 3, feeds.hits
    assert await stop(first) == 0
    assert await stop(second) == 0


async def test_a_killed_replicas_feeds_are_taken_over_after_its_lease(
    tmp_path: Path,
    feeds: Feeds,
    receiver: Receiver,
    start_replica,
    redis_client,
    redis_prefix: str,  # type: ignore[no-untyped-def]
) -> None:
    config = tmp_path / "config.toml"
    write_config(config, feeds, receiver, REDIS_URL, redis_prefix)
    doomed, survivor = await start_replica(config), await start_replica(config)
    await until(lambda: sum(feeds.hits.values()) >= FEEDS * 3, timeout=30)
    doomed.proc.kill()  # SIGKILL, possibly while holding leases
    await doomed.proc.wait()
    for i in range(FEEDS):
        feeds.publish(i, f"after-kill-{i}")
    await until(lambda: len(set(received_guids(receiver))) == FEEDS, timeout=30)
    assert sorted(received_guids(receiver)) == sorted(f"after-kill-{i}" for i in range(FEEDS))
    assert await stop(survivor) == 0


@dataclass
class OwnRedis:
    port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
                ).stdout.strip()
                == b"PONG"
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.fail("redis-server and redis-cli are needed (Debian's redis-server package)")
    server = OwnRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


async def test_a_redis_restarted_empty_under_a_running_worker_replays_nothing_and_misses_nothing(
    tmp_path: Path,
    feeds: Feeds,
    receiver: Receiver,
    start_replica,
    own_redis: OwnRedis,  # type: ignore[no-untyped-def]
) -> None:
    config = tmp_path / "config.toml"
    write_config(config, feeds, receiver, f"redis://127.0.0.1:{own_redis.port}/0", "na:")
    for i in range(FEEDS):
        feeds.publish(i, f"old-{i}")  # before the first poll: quiet
    worker = await start_replica(config)
    await until(lambda: sum(feeds.hits.values()) >= FEEDS * 2, timeout=30)
    feeds.publish(0, "before-restart")
    await until(lambda: "before-restart" in received_guids(receiver), timeout=30)
    own_redis.stop()
    await asyncio.sleep(1.0)
    own_redis.start()  # same port, no data
    feeds.publish(1, "after-restart")
    await until(lambda: "after-restart" in received_guids(receiver), timeout=45)
    await asyncio.sleep(3)
    assert sorted(received_guids(receiver)) == ["after-restart", "before-restart"]
    assert worker.events("feed_state_missing"), "the lost state is logged"
    assert await stop(worker) == 0

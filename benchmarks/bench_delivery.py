"""Benchmark delivery: alerts through the outbox to a local webhook receiver, on both stores.

    .venv/bin/python benchmarks/bench_delivery.py            # 5,000 alerts a run, 2,000 for latency
    .venv/bin/python benchmarks/bench_delivery.py --quick    # 1,000 and 500
    .venv/bin/python benchmarks/bench_delivery.py --root /path/to/other/checkout   # another version

For each store (embedded SQLite in a temporary directory; Redis on db 13 under a unique prefix whose
keys are deleted at the end) and each webhook `concurrency` (1, the default that keeps order, and 8):

- throughput: N alerts are enqueued first (the enqueue rate is reported on its own), then the outbox
  runs pass after pass until nothing is pending; alerts/s = N / that time.
- latency: alerts are enqueued at a steady rate (100/s; --rate) while a delivery loop runs the way the service
  runs it (a pass, then wait for the "new alerts" signal or a 1 s tick); latency is from just before
  `enqueue_alert` to the receiver's clock at arrival (same host, same wall clock), p50 and p99.

The receiver is an aiohttp server in a separate process that answers 200 at once and records each
`webhook-id` (the sink signs, so every request carries one) with its arrival time. Logging is the
service's JSON logging, written to /dev/null, so its cost is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _root_from_argv(argv: list[str]) -> Path:
    """The checkout whose `service` to measure (`--root`), read before that package is imported."""
    for i, arg in enumerate(argv):
        if arg == "--root" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if arg.startswith("--root="):
            return Path(arg.split("=", 1)[1]).resolve()
    return REPO


ROOT = _root_from_argv(sys.argv[1:])
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
import structlog  # noqa: E402
from aiohttp import web  # noqa: E402

from service.models import Alert, Hit, Item, Match  # noqa: E402
from service.sinks.outbox import Outbox  # noqa: E402
from service.sinks.webhook import WebhookSink  # noqa: E402
from service.state.embedded import EmbeddedStore  # noqa: E402
from service.state.protocol import Store  # noqa: E402
from service.state.redis_store import RedisStore  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
SECRET = "whsec_" + base64.b64encode(b"bench-secret-0123456789abcdef012").decode()
LATENCY_RATE = 100.0  # alerts a second, steady (far above a real news load; --rate to change)
CONCURRENCY = (1, 8, 32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the receiver process ---------------------------------------------------------------------------


def run_receiver(port: int) -> None:
    received: dict[str, float] = {}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        received.setdefault(request.headers["webhook-id"], time.time())
        return web.Response(text="ok")

    async def report(request: web.Request) -> web.Response:
        return web.json_response(received)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/report", report)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def wait_for_receiver(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/report") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError("the receiver did not start")


async def received_at(port: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/report") as resp:
        answer: dict[str, float] = await resp.json()
        return answer


# -- the alerts -------------------------------------------------------------------------------------


def template_alert() -> Alert:
    item = Item(
        id="i",
        feed="shafaq-ar",
        title="سقوط صواريخ كاتيوشا قرب مطار بغداد الدولي",
        url="https://news.example/2021/06/10/rockets-baghdad-airport",
        summary="أفاد مصدر أمني بسقوط صاروخين قرب مطار بغداد الدولي فجر اليوم دون إصابات. " * 3,
        published=datetime(2021, 6, 10, 8, tzinfo=UTC),
        language="ar",
    )
    hits = (Hit("@rocket", "صواريخ", "title", 5, 11), Hit("@rocket", "صاروخين", "summary", 20, 27))
    return Alert("x", "baghdad-airport-attacks", item, Match("baghdad-airport-attacks", hits, ("BGW",)))


def make_alerts(run: str, n: int) -> list[Alert]:
    base = template_alert()
    return [replace(base, id=f"{run}-{i:06}") for i in range(n)]


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- stores -----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def open_store(kind: str, tmp: Path):  # type: ignore[no-untyped-def]
    if kind == "embedded":
        store: Any = EmbeddedStore(tmp / f"state-{uuid.uuid4().hex[:8]}")
        await store.open()
        try:
            yield store
        finally:
            await store.close()
        return
    prefix = f"newsalert-bench:{uuid.uuid4().hex[:12]}:"
    store = RedisStore(REDIS_URL, prefix=prefix)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
        client = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])
        await client.aclose()


# -- the runs ---------------------------------------------------------------------------------------


def make_outbox(store: Store, sink: WebhookSink) -> Outbox:
    return Outbox(store, {"hook": sink}, clock=utcnow, log=structlog.get_logger(), send_timeout=30)


async def throughput(store: Store, sink: WebhookSink, n: int) -> dict[str, float]:
    alerts = make_alerts(uuid.uuid4().hex[:8], n)
    started = time.perf_counter()
    for alert in alerts:
        await store.enqueue_alert(alert, ["hook"], utcnow())
    enqueued = time.perf_counter()
    outbox = make_outbox(store, sink)
    delivered = 0
    while delivered < n:
        stats = await outbox.deliver_due()
        delivered += stats.delivered
        if not stats.delivered and not stats.retried:
            raise RuntimeError(f"stalled at {delivered} of {n}")
    done = time.perf_counter()
    return {"enqueue_per_s": n / (enqueued - started), "delivered_per_s": n / (done - enqueued)}


async def latency(store: Store, sink: WebhookSink, n: int, port: int, rate: float) -> dict[str, float]:
    alerts = make_alerts(uuid.uuid4().hex[:8], n)
    outbox = make_outbox(store, sink)
    wake, finished = asyncio.Event(), asyncio.Event()
    enqueued_at: dict[str, float] = {}

    async def deliver_forever() -> None:
        while not finished.is_set():
            # Clear before the pass: a signal raised while the pass runs must not be lost.
            wake.clear()
            await outbox.deliver_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 1.0)

    async def produce() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, alert in enumerate(alerts):
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
            enqueued_at[alert.id] = time.time()
            await store.enqueue_alert(alert, ["hook"], utcnow())
            wake.set()

    delivering = asyncio.create_task(deliver_forever())
    await produce()
    for _ in range(200):
        arrived = await received_at(port)
        if all(a in arrived for a in enqueued_at):
            break
        await asyncio.sleep(0.05)
    finished.set()
    wake.set()
    await delivering
    waits = sorted((arrived[a] - t) * 1000 for a, t in enqueued_at.items() if a in arrived)
    if len(waits) != n:
        raise RuntimeError(f"{n - len(waits)} alerts never arrived")
    return {"p50_ms": quantile(waits, 0.50), "p99_ms": quantile(waits, 0.99), "max_ms": waits[-1]}


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(quick: bool, stores: list[str], rate: float) -> list[dict[str, Any]]:
    n, m = (1000, 500) if quick else (5000, 2000)
    port = free_port()
    receiver = multiprocessing.get_context("spawn").Process(target=run_receiver, args=(port,), daemon=True)
    receiver.start()
    rows = []
    try:
        await wait_for_receiver(port)
        url = f"http://127.0.0.1:{port}/hook"
        with tempfile.TemporaryDirectory() as tmp:
            async with aiohttp.ClientSession() as session:
                for kind in stores:
                    for concurrency in CONCURRENCY:
                        sink = WebhookSink("hook", session, url=url, secret=SECRET, concurrency=concurrency)
                        async with open_store(kind, Path(tmp)) as store:
                            speed = await throughput(store, sink, n)
                        async with open_store(kind, Path(tmp)) as store:
                            lat = await latency(store, sink, m, port, rate)
                        rows.append({"store": kind, "concurrency": concurrency, "rate": rate, **speed, **lat})
                        print(format_row(rows[-1]), flush=True)
    finally:
        receiver.terminate()
        receiver.join(5)
    return rows


def format_row(row: dict[str, Any]) -> str:
    return (
        f"{row['store']:8}  concurrency {row['concurrency']}:  {row['delivered_per_s']:7.0f} alerts/s delivered "
        f"(enqueue {row['enqueue_per_s']:6.0f}/s);  latency at {row['rate']:.0f}/s: "
        f"p50 {row['p50_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms  max {row['max_ms']:6.1f} ms"
    )


def configure_logging() -> None:
    """The service's JSON logs at info level, into /dev/null: their cost is part of a delivery."""
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(sink),
        wrapper_class=structlog.make_filtering_bound_logger(20),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer alerts")
    parser.add_argument("--store", choices=["embedded", "redis"], action="append", help="default: both")
    parser.add_argument("--rate", type=float, default=LATENCY_RATE, help="alerts a second in the latency run")
    parser.add_argument("--root", type=Path, default=REPO, help="checkout whose service to measure")
    args = parser.parse_args()
    configure_logging()
    print(f"service from {ROOT}", flush=True)
    rows = asyncio.run(bench(args.quick, args.store or ["embedded", "redis"], args.rate))
    best = max(r["delivered_per_s"] for r in rows)
    worst_p99 = max(r["p99_ms"] for r in rows)
    print(f"\nbest {best:.0f} alerts/s (target >= 500); worst p99 {worst_p99:.1f} ms (target < 200)")


if __name__ == "__main__":
    main()

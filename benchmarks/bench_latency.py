"""End-to-end latency and idle cost of the running service (`newsalert run` as a subprocess).

1. Latency: 10 feeds polled every second; 100 items published one by one; for each, the time from
   publication, and from the first poll that served it, to its receipt at a local webhook (p50, p99).
2. Idle: 2,000 feeds that answer 304 after their first poll; the worker's CPU share and memory over a
   window after the start-up burst.

Feeds and the webhook receiver run in a separate process, so their CPU is not the worker's.

    .venv/bin/python benchmarks/bench_latency.py            # full run (about 3 minutes)
    .venv/bin/python benchmarks/bench_latency.py --quick    # fewer items, 500 feeds, shorter window
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the peer process: feeds with ETags, a publish endpoint, and the webhook receiver -------------


def run_peers(port: int, feeds: int) -> None:
    items: dict[int, list[tuple[str, float]]] = {i: [] for i in range(feeds)}
    first_served: dict[str, float] = {}
    received: dict[str, float] = {}

    def body(i: int) -> str:
        entries = "".join(
            f"<item><guid>{g}</guid><title>rocket report {g}</title><link>https://n.example/{g}</link></item>"
            for g, _ in items[i]
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{i}</title>{entries}</channel></rss>'
        )

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        etag = f'"{len(items[i])}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        now = time.time()
        for guid, _ in items[i]:
            first_served.setdefault(guid, now)
        return web.Response(text=body(i), content_type="application/rss+xml", headers={"ETag": etag})

    async def publish(request: web.Request) -> web.Response:
        i, guid = int(request.query["feed"]), request.query["id"]
        items[i].insert(0, (guid, time.time()))
        return web.json_response({"ok": True})

    async def hook(request: web.Request) -> web.Response:
        alert = await request.json()
        guid = alert["url"].rsplit("/", 1)[1]
        received.setdefault(guid, time.time())
        return web.Response(text="ok")

    async def report(request: web.Request) -> web.Response:
        published = {g: t for lst in items.values() for g, t in lst}
        return web.json_response({"published": published, "served": first_served, "received": received})

    app = web.Application()
    app.router.add_get("/feed/{i}", feed)
    app.router.add_post("/publish", publish)
    app.router.add_post("/hook", hook)
    app.router.add_get("/report", report)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True)


def config_text(peer: int, feeds: int, interval: str, http_port: int) -> str:
    blocks = "".join(
        f'[[feeds]]\nname = "f{i}"\nurl = "http://127.0.0.1:{peer}/feed/{i}"\ninterval = "{interval}"\n\n'
        for i in range(feeds)
    )
    return (
        f'[service]\nhttp_port = {http_port}\nhttp_host = "127.0.0.1"\nlog_format = "json"\nlog_level = "info"\n'
        f"concurrency = 50\nper_host_concurrency = 50\n\n{blocks}"
        '[[watchlists]]\nname = "rockets"\nquery = "rocket"\nsinks = ["hook"]\n\n'
        f'[sinks.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:{peer}/hook"\n'
    )


async def start_worker(directory: Path, text: str, http_port: int) -> asyncio.subprocess.Process:
    (directory / "config.toml").write_text(text)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "run",
        "--config",
        "config.toml",
        cwd=directory,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{http_port}/readyz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("worker did not become ready")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def stop_worker(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.wait(), 30)


async def latency(items: int) -> dict[str, float]:
    peer, http_port, feeds = free_port(), free_port(), 10
    server = multiprocessing.Process(target=run_peers, args=(peer, feeds), daemon=True)
    server.start()
    await asyncio.sleep(1.0)
    with tempfile.TemporaryDirectory() as tmp:
        proc = await start_worker(Path(tmp), config_text(peer, feeds, "1s", http_port), http_port)
        await asyncio.sleep(2.0)  # first polls done: every feed known, starts quiet
        async with aiohttp.ClientSession() as session:
            for n in range(items):
                await session.post(
                    f"http://127.0.0.1:{peer}/publish", params={"feed": n % feeds, "id": f"i{n}"}
                )
                await asyncio.sleep(0.25)
            await asyncio.sleep(4.0)
            async with session.get(f"http://127.0.0.1:{peer}/report") as resp:
                report: dict[str, dict[str, float]] = await resp.json()
        await stop_worker(proc)
    server.terminate()
    received, published, served = report["received"], report["published"], report["served"]
    total = [received[g] - published[g] for g in received]
    after_poll = [received[g] - served[g] for g in received if g in served]
    return {
        "items": items,
        "received": len(received),
        "p50_s": statistics.median(total),
        "p99_s": quantile(total, 0.99),
        "after_poll_p50_s": statistics.median(after_poll),
        "after_poll_p99_s": quantile(after_poll, 0.99),
    }


async def idle(feeds: int, window: float) -> dict[str, float]:
    peer, http_port = free_port(), free_port()
    server = multiprocessing.Process(target=run_peers, args=(peer, feeds), daemon=True)
    server.start()
    await asyncio.sleep(1.0)
    with tempfile.TemporaryDirectory() as tmp:
        proc = await start_worker(Path(tmp), config_text(peer, feeds, "5m", http_port), http_port)
        await asyncio.sleep(20.0)  # the start-up burst: every feed's first (200) poll
        start_cpu, start = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(window)
        cpu = cpu_seconds(proc.pid) - start_cpu
        elapsed = time.monotonic() - start
        rss, peak = memory_mb(proc.pid)
        await stop_worker(proc)
    server.terminate()
    return {
        "feeds": feeds,
        "window_s": round(elapsed, 1),
        "cpu_share": cpu / elapsed,
        "rss_mb": rss,
        "peak_mb": peak,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    lat = await latency(30 if args.quick else 100)
    print(f"latency  items {lat['items']}  received {lat['received']}")
    print(f"  publication → receipt    p50 {lat['p50_s']:.2f} s   p99 {lat['p99_s']:.2f} s")
    print(
        f"  serving poll → receipt   p50 {lat['after_poll_p50_s']:.2f} s   p99 {lat['after_poll_p99_s']:.2f} s  (target p99 < 2 s)"
    )
    quiet = await idle(500 if args.quick else 2000, 20.0 if args.quick else 60.0)
    print(
        f"idle     feeds {quiet['feeds']}  window {quiet['window_s']} s  CPU {quiet['cpu_share'] * 100:.1f}% of a core "
        f"(target < 5%)  RSS {quiet['rss_mb']:.0f} MB  peak {quiet['peak_mb']:.0f} MB (target < 200 MB)"
    )
    print(json.dumps({"latency": lat, "idle": quiet}))


if __name__ == "__main__":
    asyncio.run(main())

"""Poll-cycle benchmark: N feeds on loopback, one full cycle, feeds/s, poller CPU and peak RSS.

    python benchmarks/bench_poll.py            # 1,000 and 5,000 feeds × {304, 200, mixed}
    python benchmarks/bench_poll.py --quick    # 1,000 feeds only

The feed server runs in its own process (so its CPU is not counted) and listens on several
127.0.0.x addresses, because a real poll cycle spreads over many hosts and the fetcher's per-host
limit would otherwise serialise everything. Each scenario runs in a fresh poller process so its
peak RSS is its own. The 200 path is fetch + parse_feed + build_items for 20 items per feed (each
item: Arabic title, ~400-char HTML description, ~1.5 KB content:encoded).

Modes: "304" (every feed answers Not Modified to the stored ETag), "200" (every feed sends its
body), "mixed" (70% 304, 20% 200, 5% 404, 5% 503 with Retry-After).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HOSTS = 16
ITEMS = 20
ETAG = '"v1"'
TARGETS = {"304": 500.0, "200": 60.0}


# --- the feed server (child process) ----------------------------------------------------------


def feed_body(number: int) -> bytes:
    items = []
    for k in range(ITEMS):
        paragraph = (
            f"<p>سقطت صواريخ كاتيوشا قرب قاعدة فكتوريا المجاورة لمطار بغداد الدولي، الخبر {number}-{k}.</p>"
        )
        items.append(
            "<item>"
            f"<title>صواريخ تستهدف محيط مطار بغداد رقم {number}-{k}</title>"
            f"<link>https://news{number % HOSTS}.example/story/{number}/{k}?utm_source=rss</link>"
            f'<guid isPermaLink="false">feed{number}-item{k}</guid>'
            f"<pubDate>Thu, 10 Jun 2021 {k % 24:02d}:00:00 GMT</pubDate>"
            f"<description><![CDATA[{paragraph * 3}]]></description>"
            f"<content:encoded><![CDATA[{paragraph * 12}<script>track()</script>]]></content:encoded>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Feed {number}</title><link>https://news.example/</link><language>ar</language>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def run_server(port_file: Path) -> None:
    from aiohttp import web

    bodies: dict[int, bytes] = {}

    async def feed(request: web.Request) -> web.Response:
        mode, number = request.match_info["mode"], int(request.match_info["number"])
        status = _server_status(mode, number)
        if status == 304 and request.headers.get("If-None-Match") == ETAG:
            return web.Response(status=304, headers={"ETag": ETAG})
        if status in (404, 503):
            return web.Response(status=status, headers={"Retry-After": "600"})
        body = bodies.get(number) or bodies.setdefault(number, feed_body(number))
        return web.Response(body=body, headers={"ETag": ETAG}, content_type="application/rss+xml")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{mode}/{number}", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for host in range(1, HOSTS + 1):
            await web.TCPSite(runner, f"127.0.0.{host}", 0, backlog=1024).start()
        ports = [int(address[1]) for address in runner.addresses]
        await asyncio.to_thread(port_file.write_text, json.dumps(ports))
        await asyncio.Event().wait()

    asyncio.run(main())


def _server_status(mode: str, number: int) -> int:
    if mode == "304":
        return 304
    if mode == "200":
        return 200
    bucket = number % 20
    return 404 if bucket == 0 else 503 if bucket == 1 else 200 if bucket < 6 else 304


# --- the poller (child process per scenario) ----------------------------------------------------


async def poll_cycle(ports: list[int], feeds: int, mode: str) -> dict[str, Any]:
    from service.errors import FeedError
    from service.feeds.fetch import Fetcher, FetchLimits
    from service.feeds.items import build_items
    from service.feeds.parse import parse_feed

    counts = {"not_modified": 0, "parsed": 0, "items": 0, "errors": 0}
    now = datetime.now(UTC)

    async def one(fetcher: Fetcher, number: int) -> None:
        host = number % HOSTS
        url = f"http://127.0.0.{host + 1}:{ports[host]}/{mode}/{number}"
        try:
            result = await fetcher.fetch_feed(url, etag=ETAG, last_modified=None)
            if result.not_modified:
                counts["not_modified"] += 1
                return
            parsed = parse_feed(result.body, result.headers)
            counts["items"] += len(build_items(parsed, feed=f"feed{number}", language=None, now=now))
            counts["parsed"] += 1
        except FeedError:
            counts["errors"] += 1

    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    async with Fetcher(FetchLimits(concurrency=50, per_host=4), user_agent="newsalert-bench") as fetcher:
        await asyncio.gather(*(one(fetcher, number) for number in range(feeds)))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {
        "feeds": feeds,
        "mode": mode,
        "wall_s": round(wall, 2),
        "feeds_per_s": round(feeds / wall, 1),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        **counts,
    }


def run_poller(ports: list[int], feeds: int, mode: str) -> None:
    print(json.dumps(asyncio.run(poll_cycle(ports, feeds, mode))))


# --- orchestration -----------------------------------------------------------------------------


def run_all(sizes: list[int], modes: list[str]) -> int:
    port_file = Path(f"/tmp/bench_poll_ports_{time.monotonic_ns()}.json")
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    try:
        ports = _wait_for_ports(port_file)
        rows = [_scenario(ports, size, mode) for size in sizes for mode in modes]
    finally:
        server.terminate()
        server.wait(timeout=10)
        port_file.unlink(missing_ok=True)
    _print_table(rows)
    return 0


def _wait_for_ports(port_file: Path) -> list[int]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text():
            ports: list[int] = json.loads(port_file.read_text())
            return ports
        time.sleep(0.05)
    raise RuntimeError("feed server did not start")


def _scenario(ports: list[int], size: int, mode: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--poll", json.dumps(ports), str(size), mode]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    row: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return row


def _print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'feeds':>6} {'mode':>6} {'wall s':>7} {'feeds/s':>8} {'cpu s':>6} {'rss MB':>7}  outcome"
    print(header)
    print("-" * len(header))
    for row in rows:
        target = TARGETS.get(row["mode"])
        verdict = (
            "" if target is None else ("  ok" if row["feeds_per_s"] >= target else f"  BELOW {target:g}")
        )
        outcome = f"304={row['not_modified']} 200={row['parsed']} items={row['items']} errors={row['errors']}"
        print(
            f"{row['feeds']:>6} {row['mode']:>6} {row['wall_s']:>7} {row['feeds_per_s']:>8} "
            f"{row['cpu_s']:>6} {row['peak_rss_mb']:>7}  {outcome}{verdict}"
        )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        run_server(Path(sys.argv[2]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--poll":
        run_poller(json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 feeds only")
    parser.add_argument("--feeds", type=int, nargs="*", help="feed counts (default 1000 5000)")
    parser.add_argument(
        "--modes", nargs="*", default=["304", "200", "mixed"], choices=["304", "200", "mixed"]
    )
    options = parser.parse_args()
    sizes = options.feeds or ([1000] if options.quick else [1000, 5000])
    return run_all(sizes, options.modes)


if __name__ == "__main__":
    raise SystemExit(main())

"""Polling benchmarks on loopback: the whole service on a schedule, and one bare poll cycle.

    python benchmarks/bench_poll.py --service             # `newsalert run`: 1k, 10k, 50k feeds at 5 min
                                                          # (rate-equivalent at 30 s), ETag and always-200
    python benchmarks/bench_poll.py --service --real 50000 --interval 300   # 50,000 feeds, 5 min, for real
    python benchmarks/bench_poll.py            # bare cycle: 1,000 and 5,000 feeds × {304, 200, mixed}
    python benchmarks/bench_poll.py --quick    # bare cycle: 1,000 feeds only

The service run starts `newsalert run` (default settings, embedded store) on CPU 1 and the feed
server on CPU 0, lets the first cycle pass, then measures for `--cycles` intervals: polls/s achieved
against needed, each feed's gap between polls as the server saw them (p50/p95), the service's CPU %
(of one core) and its RSS. Feeds are 30 items, 37-85 KB, half without `<language>`; in "etag" mode
the server answers If-None-Match with 304, in "200" mode it ignores it and sends the whole unchanged
body every time (as many news sites do). Rate-equivalent: N feeds at 5 minutes poll as often as N/10
at 30 s; the real run keeps all N feeds in one process, which is what memory needs.

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
import itertools
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_latency import cpu_seconds, memory_mb, quantile

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


# --- the whole service on a schedule (--service) ------------------------------------------------

SERVICE_ITEMS = 30
SIZES = {"1k": 1_000, "10k": 10_000, "50k": 50_000}


def realistic_body(number: int) -> bytes:
    """30 items of 37-85 KB in all, like a news site's feed; half declare no language."""
    paragraphs = 3 + number % 7  # the body's size varies with the feed
    items = []
    for k in range(SERVICE_ITEMS):
        text = (
            f"<p>قالت مصادر أمنية إن صواريخ سقطت قرب قاعدة عسكرية في محيط المطار، الخبر {number}-{k}. "
            "وأضافت أن فرق الدفاع المدني هرعت إلى المكان وسط إجراءات أمنية مشددة.</p>"
        )
        items.append(
            "<item>"
            f"<title>مصادر: سقوط صواريخ قرب قاعدة عسكرية رقم {number}-{k}</title>"
            f"<link>https://news{number % HOSTS}.example/{number}/story-{k}.html?utm_source=rss</link>"
            f'<guid isPermaLink="false">feed{number}-item{k}</guid>'
            f"<pubDate>Thu, 10 Jun 2021 {k % 24:02d}:{k % 60:02d}:00 GMT</pubDate>"
            f"<description><![CDATA[{text}]]></description>"
            f"<content:encoded><![CDATA[{text * paragraphs}<img src='x.jpg'/>]]></content:encoded>"
            "</item>"
        )
    language = "<language>ar</language>" if number % 2 else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Feed {number}</title><link>https://news.example/</link>{language}"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def run_schedule_server(port_file: Path) -> None:
    """Serves /etag/N and /200/N, remembering when each feed was polled; /stats dumps the record."""
    from aiohttp import web

    bodies: dict[int, bytes] = {}
    hits: dict[int, list[float]] = {}

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["number"])
        hits.setdefault(number, []).append(time.monotonic())
        etag = f'"{number}"'
        if request.match_info["mode"] == "etag" and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        body = bodies.get(number) or bodies.setdefault(number, realistic_body(number))
        headers = {"ETag": etag} if request.match_info["mode"] == "etag" else {}
        return web.Response(body=body, headers=headers, content_type="application/rss+xml")

    async def stats(request: web.Request) -> web.Response:
        since = float(request.query.get("since", "0"))
        return web.json_response(
            {"now": time.monotonic(), "hits": {n: [t for t in ts if t >= since] for n, ts in hits.items()}}
        )

    async def clock(request: web.Request) -> web.Response:
        return web.json_response({"now": time.monotonic()})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{mode}/{number}", feed)
        app.router.add_get("/stats", stats)
        app.router.add_get("/clock", clock)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for host in range(1, HOSTS + 1):
            await web.TCPSite(runner, f"127.0.0.{host}", 0, backlog=4096).start()
        ports = [int(address[1]) for address in runner.addresses]
        await asyncio.to_thread(port_file.write_text, json.dumps(ports))
        await asyncio.Event().wait()

    asyncio.run(main())


def service_config(ports: list[int], feeds: int, interval: float, mode: str) -> str:
    blocks = "".join(
        f'[[feeds]]\nname = "f{n}"\nurl = "http://127.0.0.{n % HOSTS + 1}:{ports[n % HOSTS]}/{mode}/{n}"\n'
        f"interval = {interval}\n\n"
        for n in range(feeds)
    )
    # Default settings but for the HTTP port; two watchlists so items are matched as in production.
    return (
        f'[service]\nhttp_port = 0\nlog_format = "json"\n\n{blocks}'
        '[[watchlists]]\nname = "rockets"\nquery = "@std.rocket AND @std.airport"\nsinks = ["hook"]\n\n'
        '[[watchlists]]\nname = "qaani"\nquery = \'"Esmail Qaani"\'\nsinks = ["hook"]\n\n'
        '[sinks.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"\n'
    )


def _get_json(url: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(url, timeout=120) as response:
        return json.loads(response.read())


def service_scenario(
    ports: list[int], label: str, feeds: int, interval: float, mode: str, cycles: float, python: str
) -> dict[str, Any]:
    import tempfile

    base = f"http://127.0.0.1:{ports[0]}"
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as directory:
        Path(directory, "config.toml").write_text(service_config(ports, feeds, interval, mode))
        worker = subprocess.Popen(
            ["taskset", "-c", "1", python, "-m", "service", "run", "--config", "config.toml"],
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # The first cycle is start-up (first polls, spread); measure the cycles after it.
            time.sleep(interval * 1.25 + 5)
            start = _get_json(f"{base}/clock")["now"]
            cpu0 = cpu_seconds(worker.pid)
            time.sleep(interval * cycles)
            cpu1 = cpu_seconds(worker.pid)
            rss, peak = memory_mb(worker.pid)
            record = _get_json(f"{base}/stats?since={start - 2 * interval}")
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    window = record["now"] - start
    # Each poll inside the window closes a gap since the feed's previous poll (which may fall before
    # it); a feed whose last poll is already longer ago than the interval counts that wait as a gap.
    gaps: list[float] = []
    polled = 0
    for number in range(feeds):
        times = record["hits"].get(str(number), [])
        polled += sum(1 for t in times if t >= start)
        gaps += [b - a for a, b in itertools.pairwise(times) if b >= start]
        tail = record["now"] - (times[-1] if times else start)
        if tail > interval:
            gaps.append(tail)
    return {
        "build": "before" if python != sys.executable else "now",
        "label": label,
        "feeds": feeds,
        "interval": interval,
        "mode": mode,
        "needed": feeds / interval,
        "achieved": polled / window,
        "gap_p50": quantile(gaps, 0.5),
        "gap_p95": quantile(gaps, 0.95),
        "cpu_pct": 100 * (cpu1 - cpu0) / window,
        "cpu_ms_per_poll": 1000 * (cpu1 - cpu0) / max(1, polled),
        "rss_mb": rss,
        "peak_mb": peak,
    }


def run_service(
    scenarios: list[tuple[str, int, float]], modes: list[str], cycles: float, against: str | None
) -> int:
    port_file = Path(f"/tmp/bench_poll_ports_{time.monotonic_ns()}.json")
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, __file__, "--serve-schedule", str(port_file)]
    )
    rows = []
    try:
        ports = _wait_for_ports(port_file)
        for label, feeds, interval in scenarios:
            for mode in modes:
                for python in [against, sys.executable] if against else [sys.executable]:
                    row = service_scenario(ports, label, feeds, interval, mode, cycles, python)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        port_file.unlink(missing_ok=True)
    header = (
        f"{'build':>6} {'as':>5} {'feeds':>7} {'every':>6} {'mode':>5} {'polls/s':>8} {'needed':>7} "
        f"{'gap p50':>8} {'gap p95':>8} {'CPU %':>6} {'ms/poll':>7} {'RSS MB':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['build']:>6} {r['label']:>5} {r['feeds']:>7,} {r['interval']:>5g}s {r['mode']:>5} {r['achieved']:>8.1f} "
            f"{r['needed']:>7.1f} {r['gap_p50']:>7.1f}s {r['gap_p95']:>7.1f}s {r['cpu_pct']:>6.1f} {r['cpu_ms_per_poll']:>7.2f} {r['rss_mb']:>7.0f}"
        )
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        run_server(Path(sys.argv[2]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-schedule":
        run_schedule_server(Path(sys.argv[2]))
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
    parser.add_argument("--service", action="store_true", help="the whole service on a schedule")
    parser.add_argument(
        "--sizes",
        nargs="*",
        default=list(SIZES),
        choices=list(SIZES),
        help="with --service: as many feeds at 5 min",
    )
    parser.add_argument("--real", type=int, help="with --service: this many feeds at --interval, no scaling")
    parser.add_argument("--interval", type=float, default=30.0, help="with --service: seconds (default 30)")
    parser.add_argument("--cycles", type=float, default=2.0, help="with --service: intervals measured")
    parser.add_argument(
        "--against",
        metavar="PYTHON",
        help="with --service: also run each scenario with this interpreter's build, first",
    )
    parser.add_argument("--service-modes", nargs="*", default=["etag", "200"], choices=["etag", "200"])
    options = parser.parse_args()
    if options.service:
        if options.real:
            scenarios = [(f"{options.real:,}", options.real, options.interval)]
        else:  # N feeds at 5 minutes poll as often as N × interval / 300 feeds at `interval`
            scenarios = [
                (label, max(1, round(SIZES[label] * options.interval / 300)), options.interval)
                for label in options.sizes
            ]
        return run_service(scenarios, options.service_modes, options.cycles, options.against)
    sizes = options.feeds or ([1000] if options.quick else [1000, 5000])
    return run_all(sizes, options.modes)


if __name__ == "__main__":
    raise SystemExit(main())

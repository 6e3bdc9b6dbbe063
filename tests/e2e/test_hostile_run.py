"""`run --once` over good feeds mixed with hostile ones: it finishes within the slowest feed's timeout,
delivers every good feed's alerts, names every broken feed in the log, and stays within its memory.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

GOOD = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>good</title>'
    "<item><guid>{name}-1</guid><title>{title}</title>"
    "<link>https://good.example/{name}/1</link></item></channel></rss>"
)
CP1256 = (
    '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>x</title>'
    "<item><guid>cp-1</guid><title>صواريخ على بيروت</title><link>https://cp.example/1</link></item>"
    "</channel></rss>"
).encode("cp1256", errors="ignore")
QUADRATIC = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "x" * 100_000 + '">]>'
    '<rss version="2.0"><channel><title>q</title><item><title>'
    + "&a;" * 20_000
    + "</title></item></channel></rss>"
).encode()
BILLION = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<rss version="2.0"><channel><title>&lol3;</title></channel></rss>'
)
TIMEOUT = 3


async def peak_rss_mb(pid: int) -> float:
    """The process's own high-water mark (VmHWM), read until it exits."""
    peak = 0.0
    while True:
        try:
            status = Path(f"/proc/{pid}/status").read_text()  # noqa: ASYNC240 - procfs, never blocks
        except OSError:
            return peak
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
        if "State:\tZ" in status:
            return peak
        await asyncio.sleep(0.05)


def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


@pytest.fixture
async def hostile_server() -> AsyncIterator[str]:
    bomb = gzip_bomb()

    async def good(request: web.Request) -> web.Response:
        return web.Response(
            text=GOOD.format(name=request.match_info["name"], title=GOOD_TITLES[request.match_info["name"]]),
            content_type="application/rss+xml",
        )

    async def never(request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response(text="late")

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        chunk = b"<rss>" + b"x" * (1024 * 1024)
        for _ in range(200):  # 200 MB, far above the 2 MB cap set below
            await resp.write(chunk)
        return resp

    async def bombed(request: web.Request) -> web.Response:
        return web.Response(
            body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
        )

    def fixed(body: bytes, status: int = 200) -> web.RequestHandler:  # type: ignore[type-arg]
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body, status=status, content_type="application/rss+xml")

        return handler

    app = web.Application()
    app.router.add_get("/good/{name}", good)
    app.router.add_get("/never", never)
    app.router.add_get("/huge", huge)
    app.router.add_get("/bomb", bombed)
    app.router.add_get("/quadratic", fixed(QUADRATIC))
    app.router.add_get("/billion", fixed(BILLION))
    app.router.add_get("/nul", fixed(b'<?xml version="1.0" encoding="utf\x00-8"?><rss/>'))
    app.router.add_get("/html", fixed(b"<!doctype html><html><body><p>Not a feed</p></body></html>"))
    app.router.add_get("/empty", fixed(b""))
    app.router.add_get("/gone", fixed(b"gone", 410))
    app.router.add_get("/error", fixed(b"oops", 500))
    app.router.add_get("/cp1256", fixed(CP1256))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


HOSTILE = ["never", "huge", "bomb", "quadratic", "billion", "html", "gone", "error"]
# Odd but usable: a NUL inside the encoding declaration, an empty 200 (treated as "not modified").
GOOD_FEEDS = ["good/a", "good/b", "cp1256", "nul", "empty"]
# Two different events: the same headline from both would be one event, alerted once.
GOOD_TITLES = {"a": "صواريخ كاتيوشا على قاعدة قرب مطار بغداد", "b": "صواريخ على قاعدة عين الأسد في الأنبار"}


async def test_hostile_feeds_cost_only_their_own_poll(tmp_path: Path, hostile_server: str) -> None:
    feeds = "".join(
        f'[[feeds]]\nname = "{path.replace("/", "-")}"\nurl = "{hostile_server}/{path}"\nbackfill = "all"\n'
        for path in HOSTILE + GOOD_FEEDS
    )
    (tmp_path / "config.toml").write_text(
        f'[service]\nfetch_timeout = "{TIMEOUT}s"\nmax_feed_bytes = {2 * 1024 * 1024}\nlog_format = "json"\n\n{feeds}'
        '[concepts]\nrocket = ["صاروخ", "صواريخ"]\n'
        '[[watchlists]]\nname = "rockets"\nquery = "@rocket"\nsinks = ["out"]\n'
        '[sinks.out]\ntype = "console"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "run",
        "--once",
        "--config",
        "config.toml",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    watching = asyncio.create_task(peak_rss_mb(proc.pid))
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    peak_mb = await watching
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, err.decode()[-2000:]

    alerts = [json.loads(line) for line in out.decode().splitlines()]
    assert sorted(a["feed"] for a in alerts) == ["cp1256", "good-a", "good-b"]
    cp = next(a for a in alerts if a["feed"] == "cp1256")
    assert cp["hits"][0]["text"] == "صواريخ"  # mislabelled windows-1256 repaired before matching

    events = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    named = {e["feed"] for e in events if e.get("event") in {"feed_failed", "feed_disabled"}}
    assert named == set(HOSTILE)
    assert all(e.get("error") for e in events if e.get("event") == "feed_failed")
    assert elapsed < TIMEOUT + 20  # start-up, plus the slowest feed's timeout, not the sum of them
    assert peak_mb < 400

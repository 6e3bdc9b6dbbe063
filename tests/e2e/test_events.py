"""One alert per (watchlist, event) through `newsalert run --once`: the multilingual fixtures served as
one feed per outlet on loopback, delivered to a webhook receiver, on both stores and by two replica
processes racing on one Redis.

The confusable events are all there: the same base on the next day, another base the same evening,
the same template eight days later, the same leader's second visit a week later, an investigation
and an anniversary. Which reports match which watchlist is asked of the matcher itself; the test then
expects one alert per true event among them, each naming only copies of its own event, and one
breaking alert for the only event four outlets reported within 30 minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.match import compile_matcher
from service.settings import load_config
from tests.conftest import REDIS_URL
from tests.events import corpus
from tests.peers import Receiver

# Copies whose events link the same way whatever order concurrent polls meet them in.
COPIES = [
    *("victory-1-shafaq", "victory-1-ina", "victory-1-irna-fa", "victory-1-rudaw-ckb", "victory-1-reuters"),
    *("victory-1-security-media-cell", "victory-1-ap"),
    *("victory-2-shafaq", "victory-2-security-media-cell", "victory-2-tasnim-fa", "victory-2-reuters"),
    *("balad-1-alsumaria", "balad-1-irna-fa", "balad-1-ap", "balad-1-shafaq"),
    *("smc-template-later-security-media-cell", "smc-template-later-reuters"),
    *(
        "qaani-visit-1-shafaq",
        "qaani-visit-1-irna-fa",
        "qaani-visit-1-rudaw-en",
        "qaani-visit-1-kurdistan24-ckb",
    ),
    *("qaani-visit-2-shafaq", "qaani-visit-2-tasnim-fa"),
    *("victory-1-probe-ina", "victory-1-probe-reuters", "victory-1-probe-rudaw-ckb"),
    *("victory-1-anniversary-shafaq", "other-1-ina", "other-3-reuters"),
]
WATCHLISTS = """
[[entities]]
name = "Esmail Qaani"
kind = "person"

[[watchlists]]
name = "rockets"
query = "@std.rocket"
sinks = ["hook"]
breaking = { outlets = 4, within = "30m" }

[[watchlists]]
name = "qaani"
query = '@"Esmail Qaani"'
sinks = ["hook"]
"""


@pytest.fixture
async def outlets() -> AsyncIterator[str]:
    """One RSS feed per outlet holding its fixture reports; yields the feed base URL."""
    copies = [corpus.copy(c) for c in COPIES]

    async def handle(request: web.Request) -> web.Response:
        mine = [c for c in copies if c.item.feed == request.match_info["outlet"]]
        return web.Response(text=corpus.rss(mine), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/{outlet}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/"))
    await server.close()


def write_config(path: Path, base: str, receiver: Receiver, store: str, prefix: str = "newsalert:") -> Path:
    names = dict.fromkeys(corpus.copy(c).item.feed for c in COPIES)
    feeds = "".join(f'[[feeds]]\nname = "{n}"\nurl = "{base}{n}"\nbackfill = "all"\n' for n in names)
    path.write_text(
        f'[service]\nstore = "{store}"\nkey_prefix = "{prefix}"\nlog_format = "json"\n\n{feeds}{WATCHLISTS}'
        f'[sinks.hook]\ntype = "webhook"\nurl = "{receiver.url}"\n',
        encoding="utf-8",
    )
    return path


def expected(config: Path) -> dict[str, set[str]]:
    """Per watchlist, the true events among the copies its query matches."""
    loaded = load_config(config, {})
    matcher = compile_matcher(loaded.watchlist_defs(), loaded.vocabulary())
    out: dict[str, set[str]] = {"rockets": set(), "qaani": set()}
    for name in COPIES:
        c = corpus.copy(name)
        for match in matcher.match(c.item):
            out[match.watchlist].add(c.event)
    return out


async def run_once(config: Path, cwd: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "service", "run", "--once", "--config", str(config)),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, err.decode(errors="replace")


def event_of_url(url: str) -> str:
    return next(c.event for c in corpus.copies() if c.item.url == url)


def check_deliveries(receiver: Receiver, wanted: dict[str, set[str]]) -> None:
    bodies = [json.loads(body) for _, body in receiver.requests]
    ids = [headers["webhook-id"] for headers, _ in receiver.requests]
    assert len(ids) == len(set(ids)), "an alert was delivered twice"
    for watchlist, events in wanted.items():
        alerts = [b for b in bodies if b["watchlist"] == watchlist and not b["breaking"]]
        found = [event_of_url(b["url"]) for b in alerts]
        assert sorted(found) == sorted(events), (watchlist, found)  # one alert per event, none missed
        for body in alerts:
            own = event_of_url(body["url"])
            for other in body["also_reported_by"]:
                assert event_of_url(other["url"]) == own, (body["url"], other)  # never another event's copy
                assert other["language"] in {"ar", "fa", "ckb", "en"}
    breaking = [b for b in bodies if b["breaking"]]
    assert [(b["watchlist"], event_of_url(b["url"])) for b in breaking] == [("rockets", "victory-1")]
    assert len(breaking[0]["also_reported_by"]) >= 3
    languages = {b["language"] for b in bodies} | {
        o["language"] for b in bodies for o in b["also_reported_by"]
    }
    assert languages == {"ar", "fa", "ckb", "en"}


@pytest.mark.parametrize("backend", ["embedded", "redis"])
async def test_run_once_sends_one_alert_per_event_in_any_language_on_both_stores(
    backend: str,
    tmp_path: Path,
    outlets: str,
    receiver: Receiver,
    redis_client: object,
    redis_prefix: str,
) -> None:
    store = str(tmp_path / "state") if backend == "embedded" else REDIS_URL
    config = write_config(tmp_path / "config.toml", outlets, receiver, store, redis_prefix)
    wanted = expected(config)
    assert wanted["rockets"] >= {"victory-1", "victory-2", "balad-1", "smc-template-later", "victory-1-probe"}
    assert wanted["qaani"] >= {"qaani-visit-1", "qaani-visit-2"}
    code, err = await run_once(config, tmp_path)
    assert code == 0, err[-3000:]
    check_deliveries(receiver, wanted)
    # A second run finds nothing new: no alert, no edit, nothing sent again.
    sent = len(receiver.requests)
    code, err = await run_once(config, tmp_path)
    assert code == 0, err[-3000:]
    assert len(receiver.requests) == sent


async def test_two_replicas_polling_the_same_feeds_at_once_send_one_alert_per_event(
    tmp_path: Path, outlets: str, receiver: Receiver, redis_client: object, redis_prefix: str
) -> None:
    config = write_config(tmp_path / "config.toml", outlets, receiver, REDIS_URL, redis_prefix)
    wanted = expected(config)
    results = await asyncio.gather(run_once(config, tmp_path), run_once(config, tmp_path))
    for code, err in results:
        assert code == 0, err[-3000:]
    check_deliveries(receiver, wanted)
    decided = [
        json.loads(line)
        for _, err in results
        for line in err.splitlines()
        if line.startswith("{") and '"alert_created"' in line
    ]
    assert len({e["alert"] for e in decided}) == len(decided)  # each alert created by one replica only

"""The whole service as a subprocess against loopback peers: feeds, a signed-webhook receiver, a Bot API
fake, an SMTP server, and the probes. Items published while it runs arrive once; edits take effect;
a broken edit does not; SIGTERM exits 0 with nothing lost; a restart sends nothing again.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.peers import BotApi, Mailbox, Receiver, collect_stderr, free_port, until
from tests.sinks.test_webhook import SECRET, verify

REPO = Path(__file__).resolve().parents[2]


@dataclass
class LiveFeed:
    """A feed whose items the test publishes while the service runs."""

    items: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def publish(self, guid: str, title: str) -> None:
        self.items.insert(0, (guid, title))

    def body(self) -> str:
        now = format_datetime(datetime.now(UTC))
        entries = "".join(
            f"<item><guid>{escape(g)}</guid><title>{escape(t)}</title><link>https://n.example/{escape(g)}</link>"
            f"<pubDate>{now}</pubDate></item>"
            for g, t in self.items
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>live</title>{entries}</channel></rss>'
        )


@pytest.fixture
async def live_feed() -> AsyncIterator[LiveFeed]:
    feed = LiveFeed()

    async def handle(request: web.Request) -> web.Response:
        return web.Response(text=feed.body(), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    feed.url = str(server.make_url("/feed"))
    yield feed
    await server.close()


CONFIG = """
[service]
http_host = "127.0.0.1"
http_port = {port}
log_format = "json"
grace_period = "5s"

[[feeds]]
name = "live"
url = "{feed}"
interval = "1s"

[concepts]
rocket = ["rocket", "صاروخ", "صواريخ"]

[[watchlists]]
name = "rockets"
query = "@rocket"
sinks = ["hook", "tg", "mail"]
{extra}
[sinks.hook]
type = "webhook"
url = "{hook}"
secret = "{secret}"

[sinks.tg]
type = "telegram"
bot_token = "${{TG_TOKEN}}"
chat_id = "-100777"
api_url = "{tg}"

[sinks.mail]
type = "email"
host = "127.0.0.1"
port = {smtp}
tls = "none"
from = "alerts@example.org"
to = ["desk@example.org"]
"""


@dataclass
class Running:
    proc: asyncio.subprocess.Process
    port: int
    stderr: list[str] = field(default_factory=list)

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{self.port}{path}") as r:
            return r.status, await r.text()

    def events(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stderr if line.startswith("{")]


@pytest.fixture
def service_config(
    tmp_path: Path, live_feed: LiveFeed, receiver: Receiver, bot_api: BotApi, mailbox: Mailbox
) -> Callable[[str], Path]:
    port = free_port()

    def write(extra: str = "") -> Path:
        path = tmp_path / "config.toml"
        text = CONFIG.format(
            port=port,
            feed=live_feed.url,
            hook=receiver.url,
            secret=SECRET,
            tg=bot_api.url,
            smtp=mailbox.port,
            extra=extra,
        )
        path.write_text(text, encoding="utf-8")
        return path

    write()
    return write


@pytest.fixture
async def start_service(tmp_path: Path, bot_api: BotApi) -> AsyncIterator[Callable[[], object]]:
    running: list[Running] = []

    async def start() -> Running:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")} | {
            "TG_TOKEN": bot_api.token
        }
        config = (tmp_path / "config.toml").read_text()
        port = int(config.split("http_port = ")[1].split()[0])
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "run",
            "--config",
            "config.toml",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        run = Running(proc, port)
        asyncio.get_running_loop().create_task(collect_stderr(proc, run.stderr))
        running.append(run)
        await _wait_ready(run)
        return run

    yield start  # type: ignore[misc]
    for run in running:
        if run.proc.returncode is None:
            run.proc.kill()
            await run.proc.wait()


async def _wait_ready(run: Running, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await run.get("/readyz"))[0] == 200:
                return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the service never became ready:\n" + "".join(run.stderr[-20:]))


async def stop(run: Running, timeout: float = 15.0) -> int:
    run.proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(run.proc.wait(), timeout)


async def test_items_published_while_running_arrive_once_on_every_sink(
    service_config: Callable[[str], Path],
    start_service,
    live_feed: LiveFeed,  # type: ignore[no-untyped-def]
    receiver: Receiver,
    bot_api: BotApi,
    mailbox: Mailbox,
) -> None:
    live_feed.publish("old", "rocket story from before")
    run = await start_service()
    await until(lambda: any(e.get("event") == "feed_fetched" for e in run.events()))
    live_feed.publish("n1", "صواريخ على قاعدة")
    await until(
        lambda: len(receiver.requests) == 1 and len(bot_api.messages) == 1 and len(mailbox.messages) == 1
    )
    live_feed.publish("n2", "Rocket fire reported")
    live_feed.publish("n3", "weather today")
    await until(
        lambda: len(receiver.requests) == 2 and len(bot_api.messages) == 2 and len(mailbox.messages) == 2
    )
    await asyncio.sleep(2.5)  # several more polls of the same feed
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[0]
    assert verify(SECRET, headers, body)
    assert json.loads(body)["hits"][0]["text"] == "صواريخ"
    assert len(bot_api.messages) == 2 and len(mailbox.messages) == 2
    assert await stop(run) == 0


async def test_probes_and_metrics_answer(service_config, start_service, live_feed: LiveFeed) -> None:  # type: ignore[no-untyped-def]
    run = await start_service()
    status, body = await run.get("/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert (await run.get("/readyz"))[0] == 200
    await until(lambda: any(e.get("event") == "feed_fetched" for e in run.events()))
    status, text = await run.get("/metrics")
    assert status == 200
    assert 'newsalert_polls_total{feed="live",status="fetched"}' in text
    assert "newsalert_heartbeat_timestamp_seconds" in text
    assert "newsalert_outbox_pending 0.0" in text
    # The scheduler's lag: every poll so far started within a second of its due time.
    lag = dict(re.findall(r'^newsalert_poll_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.MULTILINE))
    assert float(lag["1.0"]) >= 1 and float(lag["1.0"]) == float(lag["+Inf"])
    assert "newsalert_polls_due 0.0" in text
    assert await stop(run) == 0


async def test_an_edited_config_takes_effect_and_a_broken_edit_does_not(
    service_config: Callable[[str], Path],
    start_service,
    live_feed: LiveFeed,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    run = await start_service()
    await until(lambda: any(e.get("event") == "feed_fetched" for e in run.events()))
    # A new watchlist on a word the first one does not know.
    service_config('[[watchlists]]\nname = "drones"\nquery = "drone"\nsinks = ["hook"]\n')
    await until(lambda: any(e.get("event") == "config_reloaded" for e in run.events()))
    live_feed.publish("d1", "Drone shot down")
    await until(lambda: len(receiver.requests) == 1)
    assert json.loads(receiver.requests[0][1])["watchlist"] == "drones"
    # A broken edit is refused with check's message; the running config keeps working.
    path = service_config('[[watchlists]]\nname = "drones"\nquery = "drone AND"\nsinks = ["hook"]\n')
    await until(lambda: any(e.get("event") == "config_reload_failed" for e in run.events()))
    failure = next(e for e in run.events() if e.get("event") == "config_reload_failed")
    assert "watchlists[1].query (column" in str(failure["error"])
    assert path.name in str(failure["error"])
    live_feed.publish("d2", "Second drone intercepted")
    await until(lambda: len(receiver.requests) == 2)
    assert await stop(run) == 0


async def test_sigterm_exits_0_and_a_restart_sends_nothing_again(
    service_config,
    start_service,
    live_feed: LiveFeed,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    run = await start_service()
    await until(lambda: any(e.get("event") == "feed_fetched" for e in run.events()))
    live_feed.publish("r1", "rocket one")
    await until(lambda: len(receiver.requests) == 1)
    assert await stop(run) == 0
    assert any(e.get("event") == "service_stopped" for e in run.events())
    again = await start_service()
    await until(lambda: sum(e.get("event") == "feed_fetched" for e in again.events()) >= 1)
    await asyncio.sleep(2)
    assert len(receiver.requests) == 1
    live_feed.publish("r2", "rocket two")
    await until(lambda: len(receiver.requests) == 2)
    assert await stop(again) == 0


async def test_alerts_accepted_before_a_crash_are_delivered_after_restart(
    service_config,
    start_service,
    live_feed: LiveFeed,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    receiver.script = [(503, {}, "down")] * 50  # the receiver is down: the alert waits in the outbox
    run = await start_service()
    await until(lambda: any(e.get("event") == "feed_fetched" for e in run.events()))
    live_feed.publish("k1", "rocket during an outage")
    await until(lambda: any(e.get("event") == "alert_delivery_failed" for e in run.events()))
    run.proc.kill()  # SIGKILL: no chance to clean up
    await run.proc.wait()
    receiver.script = []
    before = len(receiver.requests)
    again = await start_service()
    await until(lambda: len(receiver.requests) > before, timeout=90)
    ids = {h["webhook-id"] for h, _ in receiver.requests}
    assert len(ids) == 1  # every attempt, before and after the crash, carried the same id
    assert await stop(again) == 0


async def test_a_worker_killed_between_send_and_acknowledgement_resends_once_with_the_same_id(
    service_config,
    start_service,
    live_feed: LiveFeed,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    receiver.delay = 30.0  # the receiver takes the alert, then the worker dies before hearing back
    run = await start_service()
    await until(lambda: any(e.get("event") == "feed_fetched" for e in run.events()))
    live_feed.publish("amb1", "rocket in the ambiguous window")
    await until(lambda: len(receiver.requests) == 1)
    run.proc.kill()
    await run.proc.wait()
    receiver.delay = 0.0
    again = await start_service()
    await until(lambda: len(receiver.requests) == 2, timeout=30)
    await asyncio.sleep(2)
    assert len(receiver.requests) == 2  # at most once more, in the documented ambiguous window
    first, second = (h["webhook-id"] for h, _ in receiver.requests)
    assert first == second
    assert await stop(again) == 0

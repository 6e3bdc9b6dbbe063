"""A poll from feed to outbox against a real feed server on loopback and the embedded store."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import aiohttp
import pytest
import redis.asyncio as aioredis
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer

from service import lexicon
from service.feeds.fetch import Fetcher, FetchLimits
from service.feeds.result import FetchResult
from service.match import compile_matcher
from service.metrics import Metrics
from service.models import Alert, Breaking, Feed, Item, Outlet, Reading, Vocabulary, WatchlistDef
from service.pipeline import LEARN_AFTER, Pipeline, alertable, breaking_outlets
from service.sinks.outbox import Outbox
from service.sinks.render import render_text
from service.sinks.telegram import TelegramBot, TelegramSink
from service.sources.rss import RssReader
from service.state.embedded import EmbeddedStore
from service.state.protocol import DeliveryStatus, Store
from service.state.redis_store import RedisStore
from service.worker import run_once
from tests.conftest import REDIS_URL
from tests.events import corpus
from tests.peers import BotApi
from tests.sinks.test_outbox import ScriptedSink

NOW = datetime.now(UTC).replace(microsecond=0)
VOCAB = Vocabulary(concepts={"rocket": ("rocket", "صاروخ", "صواريخ", "كاتيوشا")})
WATCHLISTS = (WatchlistDef("rockets", "@rocket"),)


def rss(items: list[tuple[str, str, datetime | None]]) -> str:
    entries = []
    for guid, title, published in items:
        date = f"<pubDate>{format_datetime(published)}</pubDate>" if published else ""
        entries.append(
            f"<item><guid>{escape(guid)}</guid><title>{escape(title)}</title>"
            f"<link>https://news.example/{escape(guid)}</link>{date}<description>{escape(title)}</description></item>"
        )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{"".join(entries)}</channel></rss>'


@dataclass
class FeedServer:
    feeds: dict[str, str] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    server: TestServer | None = None

    def url(self, name: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(f"/{name}"))

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in self.status:
            return web.Response(status=self.status[name], text="error")
        return web.Response(text=self.feeds[name], content_type="application/rss+xml")


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    fs = FeedServer()
    app = web.Application()
    app.router.add_get("/{name}", fs.handle)
    fs.server = TestServer(app, host="127.0.0.1")
    await fs.server.start_server()
    yield fs
    await fs.server.close()


@dataclass
class Harness:
    store: EmbeddedStore
    pipeline: Pipeline
    outbox: Outbox
    sink: ScriptedSink

    async def run(self, feeds: list[Feed]) -> list[str]:
        before = len(self.sink.sent)
        await run_once(
            self.pipeline,
            self.outbox,
            self.store,
            feeds,
            concurrency=4,
            clock=lambda: datetime.now(UTC),
            settle_seconds=5,
            log=structlog.get_logger(),
        )
        return self.sink.sent[before:]


@pytest.fixture
async def make_harness(tmp_path: Path) -> AsyncIterator[Callable[..., AsyncIterator[Harness]]]:
    fetcher = Fetcher(FetchLimits(total_timeout=5), user_agent="newsalert-test")
    await fetcher.__aenter__()
    stores: list[EmbeddedStore] = []
    sink = ScriptedSink("out")
    matcher = compile_matcher(WATCHLISTS, VOCAB)

    async def make(state_dir: str = "state", pipeline: Pipeline | None = None) -> Harness:
        store = EmbeddedStore(tmp_path / state_dir)
        await store.open()
        stores.append(store)
        log = structlog.get_logger()
        if pipeline is None:
            pipeline = Pipeline(
                store=store,
                fetcher=fetcher,
                matcher=lambda: matcher,
                routes=lambda: {"rockets": ("out",)},
                clock=lambda: datetime.now(UTC),
                log=log,
            )
        else:
            pipeline._store = store  # the same process, a store that lost its data
        outbox = Outbox(store, {"out": sink}, clock=lambda: datetime.now(UTC), log=log)
        return Harness(store, pipeline, outbox, sink)

    yield make  # type: ignore[misc]
    for store in stores:
        await store.close()
    await fetcher.close()


def feed(server: FeedServer, name: str, backfill: float = 0.0) -> Feed:
    return Feed(name=name, url=server.url(name), reader=RssReader(), backfill=backfill)


async def test_a_new_feed_starts_quiet_then_alerts_on_news(feed_server: FeedServer, make_harness) -> None:  # type: ignore[no-untyped-def]
    h = await make_harness()
    feed_server.feeds["f"] = rss([("1", "صواريخ على القاعدة", NOW - timedelta(minutes=5))])
    assert await h.run([feed(feed_server, "f")]) == []
    feed_server.feeds["f"] = rss(
        [("2", "Rocket hits base", NOW), ("1", "صواريخ على القاعدة", NOW - timedelta(minutes=5))]
    )
    sent = await h.run([feed(feed_server, "f")])
    assert len(sent) == 1
    assert await h.run([feed(feed_server, "f")]) == []


async def test_backfill_all_alerts_on_every_matching_item_once(feed_server: FeedServer, make_harness) -> None:  # type: ignore[no-untyped-def]
    h = await make_harness()
    feed_server.feeds["f"] = rss([("1", "صواريخ", NOW), ("2", "nothing here", NOW), ("3", "rockets", None)])
    assert len(await h.run([feed(feed_server, "f", backfill=math.inf)])) == 2
    assert await h.run([feed(feed_server, "f", backfill=math.inf)]) == []


async def test_backfill_window_takes_recent_dated_items_only(feed_server: FeedServer, make_harness) -> None:  # type: ignore[no-untyped-def]
    h = await make_harness()
    feed_server.feeds["f"] = rss(
        [
            ("new", "rocket new", NOW - timedelta(minutes=10)),
            ("old", "rocket old", NOW - timedelta(days=2)),
            ("undated", "rocket", None),
        ]
    )
    await h.run([feed(feed_server, "f", backfill=3600)])
    deliveries = await h.store.deliveries()
    assert [d.alert.item.url.rsplit("/", 1)[1] for d in deliveries] == ["new"]


async def test_a_broken_feed_is_logged_by_name_and_the_others_still_alert(
    feed_server: FeedServer, make_harness
) -> None:  # type: ignore[no-untyped-def]
    h = await make_harness()
    feed_server.status["broken"] = 500
    feed_server.feeds["garbage"] = "<html><body>not a feed</body></html>"
    feed_server.feeds["good"] = rss([("1", "rocket", NOW)])
    feeds = [
        feed(feed_server, "broken"),
        feed(feed_server, "garbage"),
        feed(feed_server, "good", backfill=math.inf),
    ]
    with structlog.testing.capture_logs() as logs:
        sent = await h.run(feeds)
    assert len(sent) == 1
    failed = {e["feed"] for e in logs if e["event"] == "feed_failed"}
    assert failed == {"broken", "garbage"}
    state = await h.store.get_feed_state("broken")
    assert state is not None and state.failures == 1 and state.next_poll is not None


async def test_losing_the_store_replays_nothing_and_still_alerts_on_news(
    feed_server: FeedServer, make_harness
) -> None:  # type: ignore[no-untyped-def]
    first = await make_harness("state-a")
    feed_server.feeds["f"] = rss([("1", "rocket one", NOW)])
    assert await first.run([feed(feed_server, "f")]) == []  # quiet start
    # The same running worker, but its store came back empty (Redis restarted without persistence).
    second = await make_harness("state-b", pipeline=first.pipeline)
    feed_server.feeds["f"] = rss([("2", "rocket two", NOW), ("1", "rocket one", NOW)])
    with structlog.testing.capture_logs() as logs:
        sent = await second.run([feed(feed_server, "f")])
    assert [d.alert.item.url.rsplit("/", 1)[1] for d in await second.store.deliveries()] == ["2"]
    assert len(sent) == 1
    assert any(e["event"] == "feed_state_missing" for e in logs)


@pytest.mark.parametrize(
    ("first", "backfill", "expected"),
    [
        (False, 0.0, ["a", "b", "c"]),
        (True, 0.0, []),
        (True, math.inf, ["a", "b", "c"]),
        (True, 7200.0, ["a"]),
    ],
)
def test_alertable_follows_the_backfill_rule(first: bool, backfill: float, expected: list[str]) -> None:

    items = [
        Item("a", "f", published=NOW - timedelta(hours=1)),
        Item("b", "f", published=NOW - timedelta(days=1)),
        Item("c", "f", published=None),
    ]
    assert [i.id for i in alertable(items, first_poll=first, backfill=backfill, now=NOW)] == expected


STATE_FIXTURES = Path(__file__).resolve().parent / "state" / "fixtures"


def article_feed(guid: str, title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><guid>{escape(guid)}</guid><title>{escape(title)}</title><link>https://x.example/{escape(guid)}</link>"
        f"<pubDate>{format_datetime(NOW)}</pubDate><description>{escape(body)}</description></item></channel></rss>"
    )


async def test_one_story_from_two_outlets_alerts_once_and_names_the_other_outlet(
    feed_server: FeedServer,
    make_harness,
    seed_text: str,  # type: ignore[no-untyped-def]
) -> None:
    h = await make_harness()
    syndicated = (STATE_FIXTURES / "seed-syndicated.txt").read_text(encoding="utf-8")
    feed_server.feeds["outlet-a"] = article_feed("a1", "قاآني يصل بغداد", seed_text)
    feed_server.feeds["outlet-b"] = article_feed("b7", "قاآني في بغداد", syndicated)
    with structlog.testing.capture_logs() as logs:
        sent = await h.run([feed(feed_server, "outlet-a", backfill=math.inf)])
        sent += await h.run([feed(feed_server, "outlet-b", backfill=math.inf)])
    assert len(sent) == 1, [e for e in logs if e["event"] in ("alert_created", "story_also_reported")]
    also = [e for e in logs if e["event"] == "story_also_reported"]
    assert also and also[0]["outlets"] == ["outlet-a", "outlet-b"]


async def test_two_different_attacks_on_the_same_airport_are_two_stories(
    feed_server: FeedServer,
    make_harness,  # type: ignore[no-untyped-def]
) -> None:
    h = await make_harness()
    first = (STATE_FIXTURES / "airport-attack-a.txt").read_text(encoding="utf-8")
    second = (STATE_FIXTURES / "airport-attack-b.txt").read_text(encoding="utf-8")
    feed_server.feeds["outlet-a"] = article_feed("a1", "هجوم", first)
    feed_server.feeds["outlet-b"] = article_feed("b1", "هجوم", second)
    sent = await h.run(
        [feed(feed_server, "outlet-a", backfill=math.inf), feed(feed_server, "outlet-b", backfill=math.inf)]
    )
    assert len(sent) == 2


@pytest.mark.parametrize("backend", ["embedded", "redis"])
async def test_a_later_copy_edits_the_telegram_message_already_sent_and_sends_no_other(
    backend: str,
    feed_server: FeedServer,
    bot_api: BotApi,
    seed_text: str,
    tmp_path: Path,
    redis_client: aioredis.Redis,
    redis_prefix: str,
) -> None:
    store: Store = (
        EmbeddedStore(tmp_path / "state")
        if backend == "embedded"
        else RedisStore(REDIS_URL, prefix=redis_prefix)
    )
    await store.open()
    fetcher = Fetcher(FetchLimits(total_timeout=5), user_agent="newsalert-test")
    await fetcher.__aenter__()
    session = aiohttp.ClientSession()
    log = structlog.get_logger()
    matcher = compile_matcher(WATCHLISTS, VOCAB)
    telegram = TelegramSink(
        "tg", session, token=bot_api.token, chat_id="-100123", api_url=bot_api.url, bot=TelegramBot()
    )
    pipeline = Pipeline(
        store=store,
        fetcher=fetcher,
        matcher=lambda: matcher,
        routes=lambda: {"rockets": ("tg",)},
        clock=lambda: datetime.now(UTC),
        log=log,
    )
    outbox = Outbox(store, {"tg": telegram}, clock=lambda: datetime.now(UTC), log=log)
    syndicated = (STATE_FIXTURES / "seed-syndicated.txt").read_text(encoding="utf-8")
    feed_server.feeds["outlet-a"] = article_feed("a1", "قاآني يصل بغداد", seed_text)
    feed_server.feeds["outlet-b"] = article_feed("b7", "قاآني في بغداد", syndicated)

    async def poll(name: str) -> None:
        await run_once(
            pipeline,
            outbox,
            store,
            [feed(feed_server, name, backfill=math.inf)],
            concurrency=1,
            clock=lambda: datetime.now(UTC),
            settle_seconds=5,
            log=log,
        )

    try:
        await poll("outlet-a")
        assert len(bot_api.accepted) == 1 and bot_api.edits == []
        assert "Also reported by" not in bot_api.accepted[0]["text"]
        with structlog.testing.capture_logs() as logs:
            await poll("outlet-b")
        assert len(bot_api.messages) == 1  # no second message
        [edit] = bot_api.edits
        assert (edit["chat_id"], edit["message_id"]) == ("-100123", 1)
        assert 'Also reported by: <a href="https://x.example/b7">outlet-b (ar)</a>' in edit["text"]
        assert [e["edits"] for e in logs if e["event"] == "story_also_reported"] == [["tg"]]
        rows = await store.deliveries()
        assert sorted((d.edit, d.status) for d in rows) == [
            (False, DeliveryStatus.DELIVERED),
            (True, DeliveryStatus.DELIVERED),
        ]
        await poll("outlet-b")  # nothing new: neither a message nor an edit
        assert len(bot_api.messages) == 1 and len(bot_api.edits) == 1
    finally:
        await outbox.close()
        await session.close()
        await fetcher.close()
        await store.close()


# -- events across languages, and breaking ------------------------------------------------------


class Recorder:
    """A sink that keeps every alert it is given."""

    kind = "fake"

    def __init__(self, name: str) -> None:
        self.name = name
        self.alerts: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.alerts.append(alert)

    async def close(self) -> None:
        return None


async def run_corpus(
    tmp_path: Path,
    feed_server: FeedServer,
    copy_ids: list[str],
    breaking: dict[str, Breaking],
    telemetry: Metrics | None = None,
) -> list[Alert]:
    """Serve each copy from its outlet's feed, poll the feeds one after another, deliver."""
    copies = [corpus.copy(c) for c in copy_ids]
    outlets = list(dict.fromkeys(c.item.feed for c in copies))
    for outlet in outlets:
        feed_server.feeds[outlet] = corpus.rss(c for c in copies if c.item.feed == outlet)
    rocket = lexicon.entries()["rocket"]
    matcher = compile_matcher(
        (WatchlistDef("rockets", "@std.rocket"),), Vocabulary(concepts={rocket.reference: rocket.all_terms()})
    )
    store = EmbeddedStore(tmp_path / "state")
    await store.open()
    recorder, log = Recorder("out"), structlog.get_logger()
    async with Fetcher(FetchLimits(total_timeout=5), user_agent="newsalert-test") as fetcher:
        pipeline = Pipeline(
            store=store,
            fetcher=fetcher,
            matcher=lambda: matcher,
            routes=lambda: {"rockets": ("out",)},
            clock=lambda: datetime.now(UTC),
            log=log,
            breaking=lambda: breaking,
            telemetry=telemetry,
        )
        outbox = Outbox(store, {"out": recorder}, clock=lambda: datetime.now(UTC), log=log)  # type: ignore[dict-item]
        try:
            for outlet in outlets:
                await pipeline.poll(feed(feed_server, outlet, backfill=math.inf))
            await outbox.deliver_due()
        finally:
            await outbox.close()
            await store.close()
    return recorder.alerts


async def test_one_event_reported_in_four_languages_alerts_once_naming_the_others(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    ids = ["victory-1-shafaq", "victory-1-irna-fa", "victory-1-rudaw-ckb", "victory-1-reuters"]
    metrics = Metrics()
    [alert] = await run_corpus(tmp_path, feed_server, ids, {}, metrics)
    exposed = metrics.render().decode()
    assert 'newsalert_event_copies_total{how="new"} 1.0' in exposed
    assert 'newsalert_event_copies_total{how="anchors"} 3.0' in exposed
    assert alert.item.feed == "shafaq" and not alert.breaking
    body = alert.to_json_body()
    assert body["also_reported_by"] == [
        {"feed": "irna-fa", "language": "fa", "url": corpus.copy("victory-1-irna-fa").item.url},
        {"feed": "rudaw-ckb", "language": "ckb", "url": corpus.copy("victory-1-rudaw-ckb").item.url},
        {"feed": "reuters", "language": "en", "url": corpus.copy("victory-1-reuters").item.url},
    ]


async def test_an_event_reaching_the_breaking_threshold_sends_one_marked_alert_listing_the_outlets(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # shafaq 17:52, ina 18:05, alsumaria 18:10, reuters 18:15: four outlets within 30 minutes; the
    # next day's attack (three outlets within 30 minutes) stays an ordinary alert.
    first = [
        "victory-1-shafaq",
        "victory-1-ina",
        "victory-1-alsumaria",
        "victory-1-reuters",
        "victory-1-irna-fa",
    ]
    second = ["victory-2-shafaq", "victory-2-security-media-cell", "victory-2-ina"]
    alerts = await run_corpus(tmp_path, feed_server, first + second, {"rockets": Breaking(4, 1800)})
    ordinary = [a for a in alerts if not a.breaking]
    [breaking] = [a for a in alerts if a.breaking]
    assert sorted(a.item.feed for a in ordinary) == ["shafaq", "shafaq"]
    assert breaking.id not in {a.id for a in ordinary}
    # It carries the copy that made the fourth outlet, and lists the others with their links.
    assert breaking.item.feed == "reuters"
    assert [o.feed for o in breaking.also_reported_by] == ["shafaq", "ina", "alsumaria"]
    assert render_text(breaking).startswith("BREAKING · [rockets]")
    assert "ina (ar): https://ina.example/" in render_text(breaking)


def test_breaking_counts_distinct_outlets_within_the_window() -> None:
    rule = Breaking(3, 600)
    spread = (Outlet("a", at=0), Outlet("b", at=500), Outlet("c", at=1200), Outlet("d", at=1300))
    assert breaking_outlets(spread, rule, "d") is None
    close = (*spread, Outlet("e", at=1400))
    assert [o.feed for o in breaking_outlets(close, rule, "e") or ()] == ["c", "d", "e"]


def test_a_copy_published_long_after_the_rush_does_not_make_it_breaking() -> None:
    rush = (Outlet("a", at=0), Outlet("b", at=100), Outlet("c", at=200))
    late = (*rush, Outlet("d", at=9000))
    assert breaking_outlets(late, Breaking(3, 600), "d") is None
    assert breaking_outlets(late, Breaking(3, 600), "c") is not None


# -- cost proportional to news ----------------------------------------------------------------------


@dataclass(frozen=True)
class CountingReader:
    """The RSS reader, counting the bodies it reads and the items it builds."""

    calls: Counter[str] = field(default_factory=Counter, compare=False)

    def read(self, feed: Feed, result: FetchResult, now: datetime) -> Reading:
        self.calls["read"] += 1
        reading = RssReader().read(feed, result, now)

        def build(wanted: Collection[str] | None, language: str | None) -> list[Item]:
            items = reading.build(wanted, language)
            self.calls["built"] += len(items)
            return items

        return Reading(
            reading.ids,
            reading.dates,
            build,
            reading.ttl_seconds,
            reading.malformed,
            reading.declared_language,
        )


async def test_an_unchanged_body_is_not_parsed_and_a_changed_one_builds_only_its_new_items(
    feed_server: FeedServer,
    make_harness,  # type: ignore[no-untyped-def]
) -> None:
    h = await make_harness()
    reader = CountingReader()
    news = Feed(name="f", url=feed_server.url("f"), reader=reader)
    old = [(f"old{i}", f"rocket number {i}", NOW - timedelta(hours=i + 1)) for i in range(30)]
    feed_server.feeds["f"] = rss(old)
    await h.run([news])
    assert reader.calls == Counter(read=1)  # a quiet first poll remembers the ids, builds nothing
    with structlog.testing.capture_logs() as logs:
        assert await h.run([news]) == []  # the server ignores conditional GET: the same 200 again
    assert reader.calls == Counter(read=1)
    assert [e["event"] for e in logs if e.get("feed") == "f"] == ["feed_unchanged"]
    feed_server.feeds["f"] = rss([("new", "rocket attack on the base", NOW), *old])
    sent = await h.run([news])
    assert len(sent) == 1 and reader.calls == Counter(read=2, built=1)
    state = await h.store.get_feed_state("f")
    assert state is not None and state.body_hash is not None and state.failures == 0


async def test_a_feed_without_a_language_learns_it_and_unlearns_it_when_an_item_disagrees(
    feed_server: FeedServer,
    make_harness,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    import service.text

    detected: list[str] = []
    real = service.text.detect_language

    def counting(text: str) -> str | None:
        detected.append(text)
        return real(text)

    monkeypatch.setattr(service.text, "detect_language", counting)
    h = await make_harness()
    news = feed(feed_server, "f", backfill=math.inf)
    arabic = [(f"a{i}", f"سقطت صواريخ على قاعدة عسكرية قرب المطار رقم {i}", NOW) for i in range(LEARN_AFTER)]
    feed_server.feeds["f"] = rss(arabic)
    await h.run([news])
    state = await h.store.get_feed_state("f")
    assert state is not None and (state.language, state.language_items) == ("ar", LEARN_AFTER)
    assert len(detected) == LEARN_AFTER
    more = [(f"b{i}", f"صواريخ كاتيوشا تستهدف القاعدة مجددا {i}", NOW) for i in range(3)]
    feed_server.feeds["f"] = rss([*more, *arabic])
    detected.clear()
    await h.run([news])
    assert len(detected) == 1  # the learned language stands in; one new item is still checked
    assert {d.alert.item.language for d in await h.store.deliveries()} == {"ar"}
    english = ("e1", "Rockets struck a military base near the airport this morning", NOW)
    feed_server.feeds["f"] = rss([english, *more, *arabic])
    await h.run([news])
    state = await h.store.get_feed_state("f")
    assert state is not None and state.language_items < LEARN_AFTER
    languages = {d.alert.item.title[:7]: d.alert.item.language for d in await h.store.deliveries()}
    assert languages["Rockets"] == "en"

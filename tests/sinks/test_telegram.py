"""The Telegram sink against the Bot API fake: pacing, flood waits, long messages, refusals, secrecy.

Pacing runs on a fake monotonic clock shared by the sink's pacer and the fake (which stamps each
message it accepts), so minutes of Telegram time pass in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

from service.errors import OptionError, PermanentDeliveryError, RetryLater
from service.models import Alert, Outlet
from service.sinks.base import Throttled
from service.sinks.outbox import Outbox, RetryPolicy
from service.sinks.pacing import Pacer
from service.sinks.render import render_telegram
from service.sinks.split import visible_text
from service.sinks.telegram import TelegramBot, TelegramSink
from service.state.embedded import EmbeddedStore
from service.state.protocol import DeliveryStatus
from service.telemetry import NullTelemetry
from tests.peers import DROP_AFTER, DROP_BEFORE, BotApi
from tests.sinks.test_outbox import FakeClock
from tests.sinks.test_render import make_alert


class FakeTime:
    """A monotonic clock whose sleep moves time forward at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # "Sleep until": concurrent sleepers of the same length wake at the same moment.
        target = self.now + max(0.0, seconds)
        await asyncio.sleep(0)
        self.now = max(self.now, target)


@pytest.fixture
def fake_time(bot_api: BotApi) -> FakeTime:
    clock = FakeTime()
    bot_api.clock = clock
    return clock


@pytest.fixture
def bot(fake_time: FakeTime) -> TelegramBot:
    return TelegramBot(Pacer(clock=fake_time, sleep=fake_time.sleep))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def sink(
    session: aiohttp.ClientSession, api: BotApi, bot: TelegramBot, chat: str | int = "-100123", **kw: Any
) -> TelegramSink:
    return TelegramSink(
        kw.pop("name", "t"), session, token=api.token, chat_id=chat, api_url=api.url, bot=bot, **kw
    )


def alert(n: int | str = 1, **kw: Any) -> Alert:
    return replace(make_alert(**kw), id=f"alert{n}")


async def send_patiently(target: TelegramSink, item: Alert, clock: FakeTime) -> None:
    """Send like the outbox does: when the sink says Throttled, come back after the wait."""
    while True:
        try:
            await target.send(item)
            return
        except Throttled as exc:
            clock.now += exc.delay


FLOOD = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 7",
    "parameters": {"retry_after": 7},
}


# -- flood waits and pacing (T1, T2) ----------------------------------------------------------------


async def test_a_429_pauses_that_chat_for_retry_after_then_sends_exactly_once(
    bot_api: BotApi, bot: TelegramBot, fake_time: FakeTime, session: aiohttp.ClientSession
) -> None:
    bot_api.script = [FLOOD]
    target = sink(session, bot_api, bot)
    with pytest.raises(Throttled) as info:
        await target.send(alert())
    assert info.value.delay == 7
    started = fake_time.now
    fake_time.now += 3
    with pytest.raises(Throttled):  # still inside the flood wait: no request at all
        await target.send(alert())
    assert len(bot_api.messages) == 1
    fake_time.now += 2
    await target.send(alert())  # 2 s left: within the pacer's max_wait, so it waits, then sends
    assert len(bot_api.messages) == 2 and len(bot_api.accepted) == 1
    assert bot_api.stamps[0] >= started + 7


async def test_a_429_in_one_chat_does_not_pause_other_chats(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    bot_api.script = [FLOOD]
    with pytest.raises(Throttled):
        await sink(session, bot_api, bot, chat="-100123").send(alert())
    await sink(session, bot_api, bot, chat="42", name="other").send(alert())
    assert [m["chat_id"] for m in bot_api.accepted] == ["42"]


async def test_flood_waits_never_park_an_alert_in_the_outbox(
    tmp_path: Path, bot_api: BotApi, bot: TelegramBot, fake_time: FakeTime, session: aiohttp.ClientSession
) -> None:
    bot_api.script = [FLOOD] * 20
    store = EmbeddedStore(tmp_path / "state")
    await store.open()
    clock = FakeClock()
    box = Outbox(
        store,
        {"t": sink(session, bot_api, bot)},
        clock=clock,
        log=structlog.get_logger(),
        policy=RetryPolicy(max_attempts=3),
        rng=random.Random(1),
        idle_pause=0,
    )
    try:
        await store.enqueue_alert(alert(), ["t"], clock())
        for _ in range(21):
            await box.deliver_due()
            clock.now += timedelta(seconds=7)
            fake_time.now += 7
        [delivery] = await store.deliveries()
        assert delivery.status is DeliveryStatus.DELIVERED
        assert len(bot_api.accepted) == 1
    finally:
        await store.close()


async def test_100_alerts_to_one_group_stay_within_20_a_minute_in_order(
    bot_api: BotApi, bot: TelegramBot, fake_time: FakeTime, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot, chat="-100123")
    for n in range(100):
        await send_patiently(target, alert(n, title=f"t{n}"), fake_time)
    assert len(bot_api.accepted) == 100
    assert [m["text"].count(f">t{n}<") for n, m in enumerate(bot_api.accepted)] == [1] * 100
    assert max_in_window(bot_api.stamps, 60.0) <= 20
    assert max_in_window(bot_api.stamps, 1.0) <= 3


async def test_100_private_chats_stay_within_30_a_second_for_the_bot(
    bot_api: BotApi, bot: TelegramBot, fake_time: FakeTime, session: aiohttp.ClientSession
) -> None:
    for n in range(100):
        await send_patiently(
            sink(session, bot_api, bot, chat=str(1000 + n), name=f"s{n}"), alert(), fake_time
        )
    assert len(bot_api.accepted) == 100
    assert max_in_window(bot_api.stamps, 1.0) <= 30
    assert bot_api.stamps[-1] - bot_api.stamps[0] >= 3.0


async def test_concurrent_sinks_of_one_bot_share_its_limit(fake_time: FakeTime) -> None:
    """Many sinks waiting at once (one per chat, as the outbox drains them in parallel): the grants the
    shared pacer hands out never exceed 30 in any second."""
    granted: list[float] = []

    class Recording(Pacer):
        async def wait_turn(self, key: str) -> None:
            await super().wait_turn(key)
            granted.append(self.clock())

    pacer = Recording(clock=fake_time, sleep=fake_time.sleep, max_wait=10.0)
    await asyncio.gather(*(pacer.wait_turn(str(n)) for n in range(100)))
    assert len(granted) == 100
    assert max_in_window(granted, 1.0) <= 30


async def test_10_alerts_to_one_private_chat_go_about_one_a_second_after_a_short_burst(
    bot_api: BotApi, bot: TelegramBot, fake_time: FakeTime, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot, chat="42")
    for n in range(10):
        await send_patiently(target, alert(n), fake_time)
    assert max_in_window(bot_api.stamps, 3.0) <= 3
    assert bot_api.stamps[-1] - bot_api.stamps[0] >= 7.0


def max_in_window(stamps: list[float], period: float) -> int:
    """The most events in any half-open window (t - period, t]."""
    return max((sum(1 for s in stamps if t - period < s <= t) for t in stamps), default=0)


# -- refusals (T3, T4, T5, T10, T14, T15) --------------------------------------------------------------


@pytest.mark.parametrize(
    "description",
    [
        "Forbidden: bot was blocked by the user",
        "Forbidden: bot was kicked from the supergroup chat",
        "Forbidden: user is deactivated",
        "Forbidden: bot is not a member of the channel chat",
    ],
)
async def test_a_403_parks_after_one_attempt_and_later_alerts_to_that_chat_are_not_attempted(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession, description: str
) -> None:
    bot_api.chats = {"-100123": {"ok": False, "error_code": 403, "description": description}}
    target = sink(session, bot_api, bot)
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(PermanentDeliveryError):
            await target.send(alert(1))
        with pytest.raises(PermanentDeliveryError, match="not attempted"):
            await target.send(alert(2))
    assert len(bot_api.messages) == 1
    [event] = [e for e in logs if e["event"] == "telegram_destination_unreachable"]
    assert event["cause"] == "access" and event["chat"] == "-100123"
    await sink(session, bot_api, bot, chat="42", name="other").send(alert(3))  # others unaffected
    assert len(bot_api.accepted) == 1


async def test_a_refused_chat_is_tried_again_after_a_while(
    bot_api: BotApi, bot: TelegramBot, fake_time: FakeTime, session: aiohttp.ClientSession
) -> None:
    bot_api.script = [{"ok": False, "error_code": 403, "description": "Forbidden: bot was kicked"}]
    target = sink(session, bot_api, bot)
    with pytest.raises(PermanentDeliveryError):
        await target.send(alert(1))
    fake_time.now += bot.unreachable_for
    await target.send(alert(2))
    assert len(bot_api.accepted) == 1


async def test_chat_not_found_is_flagged_as_a_config_mistake(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    bot_api.script = [{"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}]
    with structlog.testing.capture_logs() as logs, pytest.raises(PermanentDeliveryError):
        await sink(session, bot_api, bot).send(alert())
    assert [e["cause"] for e in logs if e["event"] == "telegram_destination_unreachable"] == ["config"]


async def test_a_migrated_group_is_followed_once_and_remembered_for_later_alerts_and_new_sinks(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    new_id = -1001234567890123  # beyond 32 bits: must survive as an exact integer
    bot_api.script = [
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": new_id},
        }
    ]
    target = sink(session, bot_api, bot, chat=-4000)
    await target.send(alert(1))
    await target.send(alert(2))
    await sink(session, bot_api, bot, chat=-4000).send(alert(3))  # a sink rebuilt by a config reload
    assert [m["chat_id"] for m in bot_api.messages] == [-4000, new_id, new_id, new_id]


async def test_a_forum_topic_is_addressed_and_a_closed_topic_is_permanent_for_that_topic_only(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    bot_api.script = [{"ok": False, "error_code": 400, "description": "Bad Request: TOPIC_CLOSED"}]
    closed = sink(session, bot_api, bot, message_thread_id=7)
    with pytest.raises(PermanentDeliveryError):
        await closed.send(alert(1))
    with pytest.raises(PermanentDeliveryError, match="not attempted"):
        await closed.send(alert(2))
    await sink(session, bot_api, bot, message_thread_id=8, name="other-topic").send(alert(3))
    assert [m.get("message_thread_id") for m in bot_api.messages] == [7, 8]


async def test_message_is_too_long_is_one_attempt_and_permanent(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    bot_api.script = [{"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}]
    with pytest.raises(PermanentDeliveryError):
        await sink(session, bot_api, bot).send(alert())
    assert len(bot_api.messages) == 1


async def test_a_revoked_token_halts_every_chat_of_that_bot_without_parking(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    wrong = TelegramSink("t", session, token="123456:revoked", chat_id=1, api_url=bot_api.url, bot=bot)
    with structlog.testing.capture_logs() as logs, pytest.raises(RetryLater) as info:
        await wrong.send(alert())
    assert not isinstance(info.value, PermanentDeliveryError) and (info.value.delay or 0) >= 60
    assert any(e["event"] == "telegram_token_refused" for e in logs)
    with pytest.raises(Throttled):  # another chat of the same bot waits too, without a request
        await TelegramSink(
            "u", session, token="123456:revoked", chat_id=2, api_url=bot_api.url, bot=bot
        ).send(alert())
    assert len(bot_api.messages) == 0


# -- transient failures (T12, T13) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        ("raw", 502, "<html><body>502 Bad Gateway</body></html>"),
        {"ok": False, "error_code": 500, "description": "Internal Server Error: restart"},
        DROP_BEFORE,
    ],
    ids=["proxy-html-502", "restarting", "connection-dropped"],
)
async def test_server_errors_and_dropped_connections_are_retried_then_delivered_once(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession, answer: Any
) -> None:
    bot_api.script = [answer]
    target = sink(session, bot_api, bot)
    with pytest.raises(RetryLater) as info:
        await target.send(alert())
    assert not isinstance(info.value, Throttled)
    await target.send(alert())
    assert len(bot_api.accepted) == 1


async def test_a_message_accepted_before_the_connection_dropped_is_logged_ambiguous_and_sent_at_most_twice(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    bot_api.script = [DROP_AFTER]
    target = sink(session, bot_api, bot)
    with structlog.testing.capture_logs() as logs, pytest.raises(RetryLater):
        await target.send(alert())
    await target.send(alert())
    assert [e["alert"] for e in logs if e["event"] == "delivery_ambiguous"] == ["alert1"]
    assert len(bot_api.accepted) == 2


# -- long messages (T8) and HTML fallback (T6) ------------------------------------------------------------

LONG_TEMPLATE = "<b>{{ watchlist }}</b>\n{% for n in range(60) %}<i>فقرة {{ n }}</i> 😀 {{ item.summary }}\n\n{% endfor %}"


async def test_a_long_message_goes_in_parts_and_a_retry_resumes_at_the_part_that_failed(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot, template=LONG_TEMPLATE)
    item = alert(summary="كلمة " * 30)
    parts = target.render_parts(item)
    assert len(parts) >= 3
    bot_api.script = [{"ok": True}, {"ok": False, "error_code": 502, "description": "Bad Gateway"}]
    with pytest.raises(RetryLater):
        await target.send(item)
    await target.send(item)
    assert [m["text"] for m in bot_api.accepted] == parts  # part 1 once, then 2..n
    assert len(bot_api.messages) == len(parts) + 1
    assert "".join(visible_text(p) for p in parts) == visible_text(target._template.render(item))  # type: ignore[union-attr]


async def test_only_the_refused_part_is_resent_as_plain_text(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot, template=LONG_TEMPLATE)
    item = alert(summary="كلمة " * 30)
    parts = target.render_parts(item)
    bot_api.script = [
        {"ok": True},
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: can't parse entities: Unsupported start tag",
        },
    ]
    await target.send(item)
    modes = [m.get("parse_mode") for m in bot_api.messages]
    assert modes == ["HTML", "HTML", None] + ["HTML"] * (len(parts) - 2)
    assert bot_api.messages[2]["text"] == visible_text(parts[1])


# -- request shape (T11) and secrecy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"is_disabled": False}),
        ({"disable_preview": True}, {"is_disabled": True}),
        (
            {"preview_size": "small", "preview_above_text": True},
            {"is_disabled": False, "prefer_small_media": True, "show_above_text": True},
        ),
        ({"preview_size": "large"}, {"is_disabled": False, "prefer_large_media": True}),
    ],
)
async def test_link_preview_options_replace_the_deprecated_flag(
    bot_api: BotApi,
    bot: TelegramBot,
    session: aiohttp.ClientSession,
    options: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    await sink(session, bot_api, bot, **options).send(alert())
    sent = bot_api.messages[0]
    assert sent["link_preview_options"] == expected
    assert "disable_web_page_preview" not in sent


async def test_the_token_never_appears_in_errors_or_logs(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    token = bot_api.token
    bot_api.script = [
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        DROP_AFTER,
        ("raw", 502, "bad gateway"),
    ]
    errors: list[str] = []
    with structlog.testing.capture_logs() as logs:
        for n, chat in enumerate(["-1", "-2", "-3"]):
            try:
                await sink(session, bot_api, bot, chat=chat, name=f"s{n}").send(alert(n))
            except (RetryLater, PermanentDeliveryError) as exc:
                errors.append(str(exc))
        dead = TelegramSink("d", session, token=token, chat_id=1, api_url="http://127.0.0.1:9", bot=bot)
        with pytest.raises(RetryLater) as info:
            await dead.send(alert())
        errors.append(str(info.value))
    assert len(errors) == 4 and logs
    assert token not in repr(logs) and all(token not in e for e in errors)
    assert "TEST-token" not in repr(logs) + "".join(errors)


async def test_a_template_renders_telegram_html_with_feed_text_escaped(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    target = sink(
        session, bot_api, bot, template='<b>{{ watchlist }}</b> <a href="{{ item.url }}">{{ item.title }}</a>'
    )
    await target.send(alert(title="<b>x</b> & y"))
    assert bot_api.messages[0]["text"] == (
        '<b>baghdad-airport-attacks</b> <a href="https://x.example/a?b=1&amp;c=2">&lt;b&gt;x&lt;/b&gt; &amp; y</a>'
    )


def test_a_telegram_template_with_a_tag_telegram_refuses_fails_when_the_sink_is_built(
    session: aiohttp.ClientSession,
) -> None:
    with pytest.raises(OptionError, match=r"^template: Telegram does not support the tag <div>"):
        TelegramSink("t", session, token="1:x", chat_id=1, template="<div>{{ item.title }}</div>")


# -- edits: a later copy of the story names another outlet ------------------------------------------


def receipt_ids(receipt: str | None) -> list[list[Any]]:
    assert receipt is not None
    return list(json.loads(receipt)["messages"])


async def test_send_returns_a_receipt_naming_each_message_sent(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    await sink(session, bot_api, bot).send(alert(0))  # message 1
    assert receipt_ids(await sink(session, bot_api, bot).send(alert(1))) == [["-100123", 2]]
    long = alert(2, summary="x" * 9000)
    parts = sink(session, bot_api, bot, limit=1000, template="{{ alert.item.summary }}").render_parts(long)
    receipt = await sink(session, bot_api, bot, limit=1000, template="{{ alert.item.summary }}").send(long)
    assert receipt_ids(receipt) == [["-100123", 3 + i] for i in range(len(parts))]


async def test_an_edit_rewrites_the_sent_message_with_the_new_outlets(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot, disable_preview=True)
    first = alert()
    receipt = await target.send(first)
    assert receipt is not None
    await target.edit(replace(first, also_reported_by=(Outlet("outlet-b"),)), receipt)
    [edit] = bot_api.edits
    assert (edit["chat_id"], edit["message_id"], edit["parse_mode"]) == ("-100123", 1, "HTML")
    assert edit["link_preview_options"] == {"is_disabled": True}
    assert "Also reported by: outlet-b" in edit["text"]
    assert "Also reported by" not in bot_api.accepted[0]["text"]
    assert len(bot_api.messages) == 1  # nothing sent anew


async def test_other_outlets_are_named_with_their_language_and_linked_to_their_copy(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot)
    first = alert()
    receipt = await target.send(first)
    assert receipt is not None
    others = (Outlet("irna", "fa", "https://irna.example/1?a=1&b=2"), Outlet("rudaw", "ckb", "not-a-url"))
    await target.edit(replace(first, also_reported_by=others), receipt)
    [edit] = bot_api.edits
    assert (
        'Also reported by: <a href="https://irna.example/1?a=1&amp;b=2">irna (fa)</a>, rudaw (ckb)'
        in edit["text"]
    )


async def test_an_edit_to_a_text_already_shown_counts_as_done(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot)
    edited = alert()
    receipt = await target.send(edited)
    assert receipt is not None
    await target.edit(edited, receipt)  # "message is not modified"
    assert len(bot_api.edits) == 1 and len(bot_api.messages) == 1


@pytest.fixture
async def edit_outbox(
    tmp_path: Path, bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> AsyncIterator[tuple[EmbeddedStore, Outbox, FakeClock]]:
    """An embedded store and an outbox with one Telegram sink "t" on the Bot API fake."""
    store = EmbeddedStore(tmp_path / "state")
    await store.open()
    clock = FakeClock()
    box = Outbox(
        store, {"t": sink(session, bot_api, bot)}, clock=clock, log=structlog.get_logger(), idle_pause=0
    )
    yield store, box, clock
    await store.close()


async def test_a_message_that_cannot_be_edited_parks_the_edit_and_sends_nothing(
    bot_api: BotApi, edit_outbox: tuple[EmbeddedStore, Outbox, FakeClock]
) -> None:
    store, box, clock = edit_outbox
    await store.enqueue_alert(alert(), ["t"], clock())
    await box.deliver_due()
    bot_api.shown.clear()  # the message was deleted in the chat
    assert await store.note_outlets("alert1", ["t"], [Outlet("outlet-b")], clock()) == ["t"]
    await box.deliver_due()
    rows = {d.edit: d for d in await store.deliveries()}
    assert rows[True].status is DeliveryStatus.PARKED
    assert "message to edit not found" in (rows[True].last_error or "")
    assert rows[False].status is DeliveryStatus.DELIVERED
    assert len(bot_api.messages) == 1 and len(bot_api.edits) == 1


async def test_an_edit_through_the_outbox_honours_a_flood_wait_and_counts_not_modified_as_done(
    bot_api: BotApi, fake_time: FakeTime, edit_outbox: tuple[EmbeddedStore, Outbox, FakeClock]
) -> None:
    store, box, clock = edit_outbox
    await store.enqueue_alert(alert(), ["t"], clock())
    await box.deliver_due()
    assert await store.note_outlets("alert1", ["t"], [Outlet("outlet-b")], clock()) == ["t"]
    bot_api.script = [FLOOD]
    stats = await box.deliver_due()
    assert stats.throttled == 1 and len(bot_api.edits) == 1
    clock.now += timedelta(seconds=7)
    fake_time.now += 7
    await box.deliver_due()
    assert len(bot_api.edits) == 2 and "outlet-b" in bot_api.shown[("-100123", 1)]
    # The same edit once more (an answer lost after the edit went through): "not modified".
    assert await store.note_outlets("alert1", ["t"], [Outlet("outlet-c")], clock()) == ["t"]
    bot_api.shown[("-100123", 1)] = render_telegram(
        replace(alert(), also_reported_by=(Outlet("outlet-b"), Outlet("outlet-c")))
    )
    await box.deliver_due()
    edit = next(d for d in await store.deliveries() if d.edit)
    assert (edit.status, edit.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert len(bot_api.messages) == 1


async def test_an_edit_keeps_the_token_out_of_its_errors(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot)
    receipt = await target.send(alert())
    assert receipt is not None
    bot_api.script = [
        {
            "ok": False,
            "error_code": 400,
            "description": f"Bad Request: message can't be edited {bot_api.token}",
        }
    ]
    with pytest.raises(PermanentDeliveryError) as info:
        await target.edit(alert(), receipt)
    assert bot_api.token not in str(info.value) and "message can't be edited" in str(info.value)


async def test_many_outlets_are_capped_so_the_edited_message_still_fits(
    bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    target = sink(session, bot_api, bot)
    first = alert(summary="ملخص " * 2000)
    receipt = await target.send(first)
    assert receipt is not None
    outlets = tuple(Outlet(f"outlet-{n:03}-{'x' * 80}") for n in range(60))
    await target.edit(replace(first, also_reported_by=outlets), receipt)
    [edit] = bot_api.edits
    assert len(edit["text"]) <= 4096 and edit["text"].endswith("and 50 more")


class RecordingTelemetry(NullTelemetry):
    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str]] = []

    def delivery_finished(self, sink: str, outcome: str, duration: float | None) -> None:
        self.outcomes.append((sink, outcome))


async def test_an_edit_is_counted_as_edited_not_as_another_delivery(
    tmp_path: Path, bot_api: BotApi, bot: TelegramBot, session: aiohttp.ClientSession
) -> None:
    store = EmbeddedStore(tmp_path / "state")
    await store.open()
    telemetry, clock = RecordingTelemetry(), FakeClock()
    box = Outbox(
        store,
        {"t": sink(session, bot_api, bot)},
        clock=clock,
        log=structlog.get_logger(),
        idle_pause=0,
        telemetry=telemetry,
    )
    try:
        await store.enqueue_alert(alert(), ["t"], clock())
        await box.deliver_due()
        assert await store.note_outlets("alert1", ["t"], [Outlet("outlet-b")], clock()) == ["t"]
        await box.deliver_due()
        assert telemetry.outcomes == [("t", "delivered"), ("t", "edited")]
    finally:
        await store.close()


# -- the sink on its own, against the Bot API fake


def telegram(session: aiohttp.ClientSession, api: BotApi, **kw: object) -> TelegramSink:
    return TelegramSink("t", session, token=api.token, chat_id="-100123", api_url=api.url, **kw)  # type: ignore[arg-type]


async def test_telegram_sends_html_with_the_documented_fields(bot_api: BotApi) -> None:
    async with aiohttp.ClientSession() as session:
        await telegram(session, bot_api, message_thread_id=7, disable_preview=True).send(make_alert())
    sent = bot_api.messages[0]
    assert sent["chat_id"] == "-100123"
    assert sent["parse_mode"] == "HTML"
    assert sent["message_thread_id"] == 7
    assert sent["link_preview_options"] == {"is_disabled": True}
    assert "بصاروخين" in sent["text"]


async def test_telegram_429_carries_retry_after(bot_api: BotApi) -> None:
    bot_api.script = [
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 12",
            "parameters": {"retry_after": 12},
        }
    ]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(RetryLater) as info:
            await telegram(session, bot_api).send(make_alert())
    assert info.value.delay == 12


@pytest.mark.parametrize(
    "answer",
    [
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    ],
)
async def test_telegram_blocked_or_missing_chat_is_permanent(
    bot_api: BotApi, answer: dict[str, object]
) -> None:
    bot_api.script = [answer]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(PermanentDeliveryError) as info:
            await telegram(session, bot_api).send(make_alert())
    assert bot_api.token not in str(info.value)


async def test_telegram_follows_a_group_migrated_to_a_supergroup(bot_api: BotApi) -> None:
    bot_api.script = [
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": -1009999},
        }
    ]
    async with aiohttp.ClientSession() as session:
        sink = telegram(session, bot_api)
        await sink.send(make_alert())
    assert [m["chat_id"] for m in bot_api.messages] == ["-100123", -1009999]
    assert sink.chat_id == -1009999


async def test_telegram_resends_as_plain_text_when_html_is_refused(bot_api: BotApi) -> None:
    bot_api.script = [
        {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities: bad tag"}
    ]
    async with aiohttp.ClientSession() as session:
        await telegram(session, bot_api).send(make_alert())
    assert "parse_mode" in bot_api.messages[0]
    assert "parse_mode" not in bot_api.messages[1]


async def test_telegram_5xx_is_retried_and_the_token_never_appears(bot_api: BotApi) -> None:
    bot_api.script = [{"ok": False, "error_code": 502, "description": "Bad Gateway"}]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(RetryLater) as info:
            await telegram(session, bot_api).send(make_alert())
    assert bot_api.token not in str(info.value)


async def test_telegram_connection_errors_never_show_the_token() -> None:
    token = "999:SECRET-in-the-path"
    async with aiohttp.ClientSession() as session:
        sink = TelegramSink("t", session, token=token, chat_id=1, api_url="http://127.0.0.1:9")
        with pytest.raises(RetryLater) as info:
            await sink.send(make_alert())
    assert "SECRET" not in str(info.value)

"""Each sink against a real peer on loopback: what it sends, and how it reads each kind of failure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import aiohttp
import pytest

from service.errors import PermanentDeliveryError, RetryLater
from service.sinks.smtp import EmailSink
from service.sinks.telegram import TelegramSink
from service.sinks.webhook import WebhookSink
from tests.peers import BotApi, Mailbox, Receiver, json_of
from tests.sinks.test_render import make_alert

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def verify(headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written from the specification, independent of the sender."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.partition(",")[2] for s in headers["webhook-signature"].split()]
    return expected in offered and abs(time.time() - int(headers["webhook-timestamp"])) < 300


# -- webhooks -------------------------------------------------------------------------------------


async def test_a_signed_json_webhook_verifies_and_carries_the_spec_body(receiver: Receiver) -> None:
    async with aiohttp.ClientSession() as session:
        await WebhookSink("w", session, url=receiver.url, secret=SECRET).send(make_alert())
    headers, body = receiver.requests[0]
    assert verify(headers, body)
    assert headers["webhook-id"] == "abc123"
    payload = json_of(body)
    assert set(payload) == {
        "id",
        "watchlist",
        "title",
        "url",
        "feed",
        "published",
        "language",
        "summary",
        "hits",
        "entities",
    }
    assert payload["published"] == "2021-06-10T08:00:00Z"
    assert payload["hits"][1] == {"term": "@rocket", "text": "بصاروخين", "field": "content"}


def test_the_json_body_lists_each_hit_once_although_the_word_occurs_twice() -> None:
    alert = make_alert()
    assert [h.text for h in alert.match.hits].count("صواريخ") == 2
    assert alert.to_json_body()["hits"] == [
        {"term": "@rocket", "text": "صواريخ", "field": "content"},
        {"term": "@rocket", "text": "بصاروخين", "field": "content"},
        {"term": '@"Baghdad International Airport"', "text": "مطار بغداد الدولي", "field": "content"},
    ]


async def test_the_webhook_id_is_the_same_on_every_retry(receiver: Receiver) -> None:
    receiver.script = [(503, {}, "busy")]
    async with aiohttp.ClientSession() as session:
        sink = WebhookSink("w", session, url=receiver.url, secret=SECRET)
        with pytest.raises(RetryLater):
            await sink.send(make_alert())
        await sink.send(make_alert())
    ids = [h["webhook-id"] for h, _ in receiver.requests]
    assert ids == ["abc123", "abc123"]


@pytest.mark.parametrize(
    ("status", "headers", "error", "delay"),
    [
        (429, {"Retry-After": "7"}, RetryLater, 7.0),
        (503, {}, RetryLater, None),
        (408, {}, RetryLater, None),
        (425, {}, RetryLater, None),
        (500, {}, RetryLater, None),
        (400, {}, PermanentDeliveryError, None),
        (404, {}, PermanentDeliveryError, None),
        (410, {}, PermanentDeliveryError, None),
    ],
)
async def test_webhook_failures_are_classified(
    receiver: Receiver, status: int, headers: dict[str, str], error: type[Exception], delay: float | None
) -> None:
    receiver.script = [(status, headers, "nope")]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(error) as info:
            await WebhookSink("w", session, url=receiver.url).send(make_alert())
    if delay is not None:
        assert isinstance(info.value, RetryLater) and info.value.delay == delay


async def test_an_unreachable_webhook_is_retried_later() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(RetryLater):
            await WebhookSink("w", session, url="http://127.0.0.1:9/x", timeout=2).send(make_alert())


@pytest.mark.parametrize(("fmt", "key"), [("slack", "text"), ("discord", "embeds")])
async def test_slack_and_discord_formats(receiver: Receiver, fmt: str, key: str) -> None:
    async with aiohttp.ClientSession() as session:
        await WebhookSink("w", session, url=receiver.url, format=fmt).send(make_alert())
    assert key in json_of(receiver.requests[0][1])


# -- telegram -------------------------------------------------------------------------------------


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


# -- email ----------------------------------------------------------------------------------------


def email_sink(box: Mailbox, to: list[str]) -> EmailSink:
    return EmailSink(
        "m", host="127.0.0.1", port=box.port, tls="none", sender="alerts@example.org", to=to, timeout=5
    )


async def test_an_email_has_an_encoded_arabic_subject_both_parts_and_a_stable_message_id(
    mailbox: Mailbox,
) -> None:
    await email_sink(mailbox, ["desk@example.org"]).send(make_alert())
    sender, rcpts, raw = mailbox.messages[0]
    message = message_from_bytes(raw, policy=policy.default)
    assert sender == "alerts@example.org" and rcpts == ["desk@example.org"]
    assert raw.isascii() or b"Subject: =?utf-8?" in raw
    assert str(make_header(decode_header(message["Subject"]))) == "[baghdad-airport-attacks] قاآني يصل بغداد"
    assert message["Message-ID"] == "<abc123@example.org>"
    kinds = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in kinds and "text/html" in kinds


async def test_one_refused_recipient_among_several_does_not_fail_the_others(mailbox: Mailbox) -> None:
    mailbox.refuse = {"gone@example.org": "550 No such user"}
    await email_sink(mailbox, ["desk@example.org", "gone@example.org"]).send(make_alert())
    assert mailbox.messages[0][1] == ["desk@example.org"]


@pytest.mark.parametrize(
    ("reply", "error"), [("550 No such user", PermanentDeliveryError), ("451 Try later", RetryLater)]
)
async def test_smtp_5xx_is_permanent_and_4xx_is_retried(
    mailbox: Mailbox, reply: str, error: type[Exception]
) -> None:
    mailbox.refuse = {"desk@example.org": reply}
    with pytest.raises(error):
        await email_sink(mailbox, ["desk@example.org"]).send(make_alert())


async def test_an_unreachable_smtp_server_is_retried_later() -> None:
    sink = EmailSink(
        "m", host="127.0.0.1", port=9, tls="none", sender="a@example.org", to=["b@example.org"], timeout=2
    )
    with pytest.raises(RetryLater):
        await sink.send(make_alert())

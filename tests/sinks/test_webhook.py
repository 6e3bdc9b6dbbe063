"""The webhook sink against a local receiver: Standard Webhooks signing, status handling, Slack, Discord."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import structlog

from service.errors import OptionError, PermanentDeliveryError, RetryLater
from service.sinks.base import Throttled
from service.sinks.pacing import Pacer, Rate
from service.sinks.webhook import WebhookSink
from tests.peers import DROP_AFTER, Receiver, json_of
from tests.sinks.test_render import make_alert

OLD = "whsec_" + base64.b64encode(b"old-secret-0123456789abcdef0123").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-0123456789abcdef0123").decode()
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: float = 300) -> bool:
    """Standard Webhooks verification as a receiver does it, written from the specification."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.partition(",")[2] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    fresh = abs(time.time() - int(stamp)) <= tolerance
    return fresh and any(hmac.compare_digest(expected, o) for o in offered)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def hook(session: aiohttp.ClientSession, url: str, **kw: Any) -> WebhookSink:
    return WebhookSink(kw.pop("name", "w"), session, url=url, **kw)


# -- signing (W1, W2) ---------------------------------------------------------------------------------


async def test_the_signed_bytes_are_the_bytes_sent_and_the_id_is_stable_while_the_timestamp_moves(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    now = [1_700_000_000.0]
    receiver.script = [(503, {}, "busy")]
    target = hook(session, receiver.url, secret=OLD, clock=lambda: now[0])
    with pytest.raises(RetryLater):
        await target.send(make_alert())
    now[0] += 5
    await target.send(make_alert())
    (h1, b1), (h2, b2) = receiver.requests
    assert h1["webhook-id"] == h2["webhook-id"] == "abc123"
    assert (h1["webhook-timestamp"], h2["webhook-timestamp"]) == ("1700000000", "1700000005")
    assert h1["webhook-signature"] != h2["webhook-signature"]
    assert b1 == b2 and json_of(b1)["id"] == "abc123"
    assert all(verify(OLD, h, b, tolerance=10**10) for h, b in receiver.requests)


async def test_two_secrets_in_rotation_give_two_signatures_and_either_verifies(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    await hook(session, receiver.url, secret=f"{OLD} {NEW}").send(make_alert())
    headers, body = receiver.requests[0]
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(OLD, headers, body) and verify(NEW, headers, body)
    tampered = body.replace(b"abc123", b"abc124")
    assert not verify(OLD, headers, tampered) and not verify(NEW, headers, tampered)


async def test_without_a_secret_no_signature_headers_are_sent(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    await hook(session, receiver.url).send(make_alert())
    sent = {k.lower() for k in receiver.requests[0][0] if k.lower().startswith("webhook-")}
    assert sent == {"webhook-id"}  # the id goes out signed or not; nothing to verify without a secret


# -- status handling (W3-W7, W15) -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_not_followed_and_is_permanent(
    receiver: Receiver, session: aiohttp.ClientSession, status: int
) -> None:
    receiver.script = [(status, {"Location": receiver.url + "/moved/SECRET-PATH"}, "")]
    with structlog.testing.capture_logs() as logs, pytest.raises(PermanentDeliveryError) as info:
        await hook(session, receiver.url).send(make_alert())
    assert len(receiver.requests) == 1  # nothing went to the Location
    assert "update the sink's url" in str(info.value)
    assert "SECRET-PATH" not in str(info.value) + repr(logs)
    assert [e["status"] for e in logs if e["event"] == "webhook_redirected"] == [status]


async def test_410_disables_the_endpoint_so_later_alerts_are_parked_without_a_request(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.script = [(410, {}, "gone")]
    target = hook(session, receiver.url)
    with structlog.testing.capture_logs() as logs, pytest.raises(PermanentDeliveryError):
        await target.send(make_alert())
    with pytest.raises(PermanentDeliveryError, match="disabled"):
        await target.send(make_alert())
    assert len(receiver.requests) == 1
    assert [e["event"] for e in logs].count("sink_disabled") == 1


async def test_a_404_from_a_generic_receiver_parks_that_alert_but_keeps_the_endpoint(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.script = [(404, {}, "no such route")]
    target = hook(session, receiver.url)
    with pytest.raises(PermanentDeliveryError):
        await target.send(make_alert())
    await target.send(make_alert())
    assert len(receiver.requests) == 2


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"Retry-After": "in a while"}, None),
        ({}, None),
    ],
)
async def test_429_asks_for_the_wait_the_receiver_gave(
    receiver: Receiver, session: aiohttp.ClientSession, headers: dict[str, str], delay: float | None
) -> None:
    receiver.script = [(429, headers, "slow down")]
    with pytest.raises(RetryLater) as info:
        await hook(session, receiver.url).send(make_alert())
    assert info.value.delay == delay


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried_then_delivered_once(
    receiver: Receiver, session: aiohttp.ClientSession, status: int
) -> None:
    receiver.script = [(status, {"Retry-After": "3"}, "down")]
    target = hook(session, receiver.url, secret=OLD)
    with pytest.raises(RetryLater):
        await target.send(make_alert())
    await target.send(make_alert())
    assert len({h["webhook-id"] for h, _ in receiver.requests}) == 1


async def test_a_slow_receiver_times_out_as_ambiguous_and_the_retry_carries_the_same_id(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.delay = 1.0
    target = hook(session, receiver.url, secret=OLD, timeout=0.2)
    with structlog.testing.capture_logs() as logs, pytest.raises(RetryLater, match="same webhook-id"):
        await target.send(make_alert())
    assert any(e["event"] == "delivery_ambiguous" for e in logs)
    receiver.delay = 0
    await target.send(make_alert())
    await asyncio.sleep(1.0)  # let the abandoned request finish on the receiver's side
    assert {h["webhook-id"] for h, _ in receiver.requests} == {"abc123"}


async def test_a_connection_dropped_after_the_body_arrived_is_retried_with_the_same_id(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.script = [DROP_AFTER]
    target = hook(session, receiver.url, secret=OLD)
    with structlog.testing.capture_logs() as logs, pytest.raises(RetryLater):
        await target.send(make_alert())
    await target.send(make_alert())
    assert [e["event"] for e in logs].count("delivery_ambiguous") == 1
    ids = [h["webhook-id"] for h, _ in receiver.requests]
    assert ids == ["abc123", "abc123"]  # a receiver deduplicating on webhook-id processes it once


async def test_a_secret_url_never_appears_in_an_error() -> None:
    async with aiohttp.ClientSession() as client:
        target = hook(client, "http://127.0.0.1:9/api/webhooks/1/SECRET-TOKEN", format="discord", timeout=2)
        with pytest.raises(RetryLater) as info:
            await target.send(make_alert())
    assert "SECRET-TOKEN" not in str(info.value)


# -- Slack and Discord (W9-W14) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"), [(404, "channel_not_found"), (410, "channel_is_archived"), (403, "action_prohibited")]
)
async def test_slack_refusals_disable_the_endpoint(
    receiver: Receiver, session: aiohttp.ClientSession, status: int, body: str
) -> None:
    receiver.script = [(status, {}, body)]
    target = hook(session, receiver.url, format="slack")
    with pytest.raises(PermanentDeliveryError, match=body):
        await target.send(make_alert())
    with pytest.raises(PermanentDeliveryError, match="disabled"):
        await target.send(make_alert())
    assert len(receiver.requests) == 1


async def test_slack_invalid_payload_is_permanent_for_that_alert_only(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.script = [(400, {}, "invalid_payload")]
    target = hook(session, receiver.url, format="slack")
    with pytest.raises(PermanentDeliveryError, match="invalid_payload"):
        await target.send(make_alert())
    await target.send(make_alert())
    assert len(receiver.requests) == 2


async def test_discord_429_waits_the_float_retry_after_from_its_json_body(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    body = '{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}'
    receiver.script = [(429, {"Retry-After": "65", "X-RateLimit-Scope": "user"}, body)]
    with pytest.raises(RetryLater) as info:
        await hook(session, receiver.url, format="discord").send(make_alert())
    assert info.value.delay == 64.57


async def test_a_discord_404_disables_the_webhook_with_no_further_calls(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.script = [(404, {}, '{"message": "Unknown Webhook", "code": 10015}')]
    target = hook(session, receiver.url, format="discord")
    for _ in range(3):
        with pytest.raises(PermanentDeliveryError):
            await target.send(make_alert())
    assert len(receiver.requests) == 1


async def test_slack_is_paced_to_a_burst_of_three_then_about_one_a_second(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    now = [0.0]

    async def no_sleep(seconds: float) -> None:
        raise AssertionError("the test's pacer never sleeps")

    pacer = Pacer(
        overall=None, per_key=Rate(3, 3.0), per_group=None, max_wait=0.0, clock=lambda: now[0], sleep=no_sleep
    )
    target = hook(session, receiver.url, format="slack", pacer=pacer)
    for _ in range(3):
        await target.send(make_alert())
    with pytest.raises(Throttled) as info:
        await target.send(make_alert())
    assert info.value.delay == 3.0
    now[0] += 3.0
    await target.send(make_alert())
    assert len(receiver.requests) == 4


async def test_a_template_sets_the_slack_text_and_a_json_body_refuses_one(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    await hook(session, receiver.url, format="slack", template="{{ watchlist }}: {{ item.title }}").send(
        make_alert()
    )
    assert json_of(receiver.requests[0][1])["text"] == "baghdad-airport-attacks: قاآني يصل بغداد"
    with pytest.raises(OptionError, match="json format"):
        hook(session, receiver.url, template="{{ item.title }}")


def test_a_whsec_secret_that_is_not_base64_is_a_config_error_that_does_not_show_it() -> None:
    with pytest.raises(OptionError) as info:
        WebhookSink("w", None, url="http://x.example/", secret=f"{OLD} whsec_not*base64!")  # type: ignore[arg-type]
    assert (info.value.option, info.value.reason) == ("secret", "secret #2 is whsec_ but not base64")
    assert "not*base64" not in str(info.value)


# -- against the receiver, in the format of each kind of peer


async def test_a_signed_json_webhook_verifies_and_carries_the_spec_body(receiver: Receiver) -> None:
    async with aiohttp.ClientSession() as session:
        await WebhookSink("w", session, url=receiver.url, secret=SECRET).send(make_alert())
    headers, body = receiver.requests[0]
    assert verify(SECRET, headers, body)
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
        "also_reported_by",
        "breaking",
    }
    assert (payload["also_reported_by"], payload["breaking"]) == ([], False)
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

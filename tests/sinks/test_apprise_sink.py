"""The Apprise sink, offline: Apprise's json:// notifier against the local receiver."""

from __future__ import annotations

import pytest

from service.errors import OptionError, RetryLater
from service.sinks.apprise_sink import AppriseSink
from tests.peers import Receiver, free_port, json_of
from tests.sinks.test_render import make_alert


def json_url(http_url: str) -> str:
    return "json://" + http_url.removeprefix("http://")


async def test_an_alert_goes_out_through_an_apprise_url(receiver: Receiver) -> None:
    await AppriseSink("a", urls=[json_url(receiver.url)]).send(make_alert())
    body = json_of(receiver.requests[0][1])
    assert body["title"] == "[baghdad-airport-attacks] قاآني يصل بغداد"
    assert "بصاروخين" in body["message"]


async def test_a_failure_is_retried_and_urls_that_took_the_alert_are_not_sent_it_again(
    receiver: Receiver,
) -> None:
    dead = f"json://127.0.0.1:{free_port()}/x"
    sink = AppriseSink("a", urls=[json_url(receiver.url), dead])
    for _ in range(2):
        with pytest.raises(RetryLater, match=r"#1 json://") as info:
            await sink.send(make_alert())
        assert "127.0.0.1" not in str(info.value)
    assert len(receiver.requests) == 1


def test_an_url_apprise_does_not_know_fails_when_the_sink_is_built_without_showing_it() -> None:
    with pytest.raises(OptionError, match=r"^urls\[0\]: Apprise does not understand") as info:
        AppriseSink("a", urls=["nosuchservice://user:SECRET@host"])
    assert "SECRET" not in str(info.value)


async def test_a_template_shapes_the_body(receiver: Receiver) -> None:
    await AppriseSink("a", urls=[json_url(receiver.url)], template="{{ watchlist }} · {{ item.url }}").send(
        make_alert()
    )
    assert (
        json_of(receiver.requests[0][1])["message"] == "baghdad-airport-attacks · https://x.example/a?b=1&c=2"
    )

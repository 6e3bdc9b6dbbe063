"""The expat fast path: what it accepts, what it hands to feedparser, and its dates."""

from __future__ import annotations

import calendar

import pytest

from service.feeds.parse import parse_feed
from service.feeds.xmlfeed import parse_date, parse_simple
from tests.feeds.conftest import fixture_bytes, rss, rss_item


@pytest.mark.parametrize(
    ("value", "epoch"),
    [
        ("Thu, 10 Jun 2021 05:00:00 GMT", 1623301200),
        ("Thu, 10 Jun 2021 08:00:00 +0300", 1623301200),
        ("2021-06-10T08:00:00+03:00", 1623301200),
        ("2021-06-10T05:00:00Z", 1623301200),
        ("2021-06-10 05:00:00", 1623301200),  # no zone: UTC
        ("10 June 2021", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_date(value: str, epoch: int | None) -> None:
    parsed = parse_date(value)
    if epoch is None:
        assert parsed is None or calendar.timegm(parsed) > 0
    else:
        assert parsed is not None
        assert calendar.timegm(parsed) == epoch


@pytest.mark.parametrize("name", ["rss20.xml", "rss10.rdf"])
def test_simple_feeds_take_the_fast_path(name: str) -> None:
    assert parse_simple(fixture_bytes(name)) is not None


@pytest.mark.parametrize(
    "body",
    [
        fixture_bytes("rss091.xml"),  # RSS 0.91: feedparser knows the Netscape flavour
        fixture_bytes("atom.xml"),  # XHTML-typed text
        rss(rss_item(guid="1", title="a & b")).encode(),  # not well-formed
        rss(rss_item(guid="1", title="<b>raw</b> markup")).encode(),  # element inside a text field
        b"<unknown/>",
    ],
)
def test_unusual_documents_go_to_feedparser(body: bytes) -> None:
    assert parse_simple(body) is None


def test_a_feed_with_markup_in_a_title_still_parses_through_feedparser() -> None:
    parsed = parse_feed(rss(rss_item(guid="1", title="<b>raw</b> markup")).encode(), {})
    assert len(parsed.entries) == 1

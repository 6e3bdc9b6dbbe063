"""How alerts read: escaped for each channel, within each channel's limits, Arabic kept readable."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest

from service.models import Alert, Hit, Item, Match
from service.sinks.render import (
    clip,
    discord_body,
    matched_terms,
    render_html,
    render_telegram,
    render_text,
    slack_body,
)


def make_alert(
    title: str = "قاآني يصل بغداد", summary: str = "ملخص", url: str = "https://x.example/a?b=1&c=2"
) -> Alert:
    item = Item(
        id="i",
        feed="demo-iraq",
        title=title,
        url=url,
        summary=summary,
        published=datetime(2021, 6, 10, 8, tzinfo=UTC),
        language="ar",
    )
    hits = (
        Hit("@rocket", "صواريخ", "content", 10, 16),
        Hit("@rocket", "بصاروخين", "content", 30, 38),
        Hit("@rocket", "صواريخ", "content", 50, 56),
        Hit('@"Baghdad International Airport"', "مطار بغداد الدولي", "content", 60, 77),
    )
    return Alert(
        "abc123",
        "baghdad-airport-attacks",
        item,
        Match("baghdad-airport-attacks", hits, ("Baghdad International Airport",)),
    )


def test_matched_terms_lists_each_surface_form_once_in_order() -> None:
    assert matched_terms(make_alert()) == [
        "صواريخ (@rocket)",
        "بصاروخين (@rocket)",
        'مطار بغداد الدولي (@"Baghdad International Airport")',
    ]


def test_telegram_html_escapes_feed_text_and_links_the_title() -> None:
    alert = make_alert(title="<script>alert(1)</script> & co", summary="<b>bold</b>")
    text = render_telegram(alert)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "&lt;b&gt;bold" in text
    assert f'<a href="{html.escape(alert.item.url, quote=True)}">' in text
    assert text.startswith("<b>baghdad-airport-attacks</b>")


@pytest.mark.parametrize("size", [10, 5000, 20000])
def test_telegram_text_never_exceeds_4096_characters(size: int) -> None:
    text = render_telegram(make_alert(summary="كلمة " * size))
    assert len(text) <= 4096
    assert "demo-iraq" in text  # the source line survives a long summary


def test_plain_text_and_html_carry_the_same_facts() -> None:
    alert = make_alert()
    text, page = render_text(alert), render_html(alert)
    for fact in ("baghdad-airport-attacks", "بصاروخين", "demo-iraq", "abc123"):
        assert fact in text and fact in page


def test_html_email_escapes_everything_from_the_feed() -> None:
    page = render_html(make_alert(title='"><img src=x onerror=alert(1)>'))
    assert "<img" not in page


def test_slack_body_escapes_its_control_characters() -> None:
    body = slack_body(make_alert(title="a <b> & c"))
    assert "a &lt;b&gt; &amp; c" in body["text"]


def test_discord_body_never_pings_and_respects_its_limits() -> None:
    body = discord_body(make_alert(title="@everyone " + "x" * 3000, summary="y " * 5000))
    assert body["allowed_mentions"] == {"parse": []}
    assert len(body["content"]) <= 2000
    assert len(body["embeds"][0]["title"]) <= 256
    assert len(body["embeds"][0]["description"]) <= 4096


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("one two three four", 14, "one two three…"),
        ("one two three four", 12, "one two…"),
    ],
)
def test_clip_cuts_on_a_word_boundary(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected

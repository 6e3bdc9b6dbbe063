"""Splitting long Telegram messages: within the limits, on good boundaries, each part valid by itself."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.sinks.render import render_telegram
from service.sinks.split import (
    split_message,
    telegram_markup_problem,
    to_plain,
    tokenize,
    utf16_len,
    visible_text,
)
from tests.sinks.test_render import make_alert


def check_part(part: str, limit: int, max_entities: int = 100) -> None:
    assert telegram_markup_problem(part) is None, part
    assert utf16_len(visible_text(part)) <= limit
    assert sum(1 for t in tokenize(part) if t.kind.value == "open") <= max_entities


def test_a_short_message_is_one_part_unchanged() -> None:
    text = '<b>watch</b>\n<a href="https://x.example/?a=1&amp;b=2">title</a> &amp; co'
    assert split_message(text) == [text]


def test_utf16_length_counts_an_emoji_twice_and_an_arabic_letter_once() -> None:
    assert utf16_len("😀") == 2
    assert utf16_len("بغداد") == 5


def test_a_10000_character_arabic_and_emoji_body_splits_within_4096_utf16_units() -> None:
    body = "".join(f"فقرة {i} 😀 " + "كلمة " * 40 + "\n\n" for i in range(50))
    text = f"<b>watch</b>\n<i>{html.escape(body)}</i>"
    parts = split_message(text)
    assert len(parts) > 1
    for part in parts:
        check_part(part, 4096)
    assert "".join(visible_text(p) for p in parts) == visible_text(text)


def test_a_cut_prefers_a_paragraph_then_a_line_then_a_word() -> None:
    para = "a" * 30 + "\n\n" + "b" * 30
    assert split_message(para, limit=40) == ["a" * 30 + "\n\n", "b" * 30]
    line = "a" * 30 + "\n" + "b" * 30
    assert split_message(line, limit=40) == ["a" * 30 + "\n", "b" * 30]
    words = "aaaa " * 12
    assert split_message(words, limit=22) == ["aaaa " * 4, "aaaa " * 4, "aaaa " * 4]


def test_a_word_longer_than_the_limit_is_cut_between_characters_never_inside_an_entity() -> None:
    text = "&amp;" * 50
    parts = split_message(text, limit=16)
    assert all(p == "&amp;" * 16 for p in parts[:3])
    assert "".join(visible_text(p) for p in parts) == "&" * 50


def test_a_tag_open_at_a_cut_is_closed_and_reopened() -> None:
    text = '<a href="https://x.example/">' + "word " * 20 + "</a>"
    first, second, *_ = split_message(text, limit=40)
    assert first.startswith('<a href="https://x.example/">') and first.endswith("</a>")
    assert second.startswith('<a href="https://x.example/">') and second.endswith("</a>")


def test_no_part_carries_more_than_100_entities() -> None:
    text = "".join(f"<b>{i}</b> " for i in range(250))
    parts = split_message(text)
    assert len(parts) == 3
    for part in parts:
        check_part(part, 4096)


def test_a_whitespace_only_remainder_is_not_sent_as_an_empty_message() -> None:
    assert split_message("word" + " " * 30, limit=10) == ["word      "]


def test_plain_text_is_split_without_reading_markup() -> None:
    text = "<b> is not a tag here " * 10
    parts = split_message(text, limit=50, markup=False)
    assert "".join(parts) == text
    assert all(len(p) <= 50 for p in parts)


def test_the_plain_fallback_keeps_the_link_address() -> None:
    part = '<b>w</b>\n<a href="https://x.example/?a=1&amp;b=2">T &lt;3</a>'
    assert to_plain(part) == "w\nT <3 (https://x.example/?a=1&b=2)"


def test_the_default_rendering_of_a_hostile_title_passes_the_telegram_validator() -> None:
    alert = make_alert(
        title='AT&T <script>x</script> Q3 &nbsp;&mdash; <a href="javascript:x" onclick=y>',
        summary="<b>bold</b> &nbsp; text",
    )
    text = render_telegram(alert)
    assert telegram_markup_problem(text) is None
    assert "&nbsp;" not in text.replace("&amp;nbsp;", "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<p>x</p>", "does not support the tag <p>"),
        ("a &nbsp; b", "does not decode the entity &nbsp;"),
        ("<b>x", "never closed"),
        ("x</b>", "does not match"),
        ("1 < 2", "must be escaped"),
        ("<b>ok</b> <a href='x'>y</a> &#x27; &quot;", None),
    ],
)
def test_the_markup_validator_follows_the_bot_api_rules(text: str, problem: str | None) -> None:
    found = telegram_markup_problem(text)
    assert (found is None) if problem is None else (problem in (found or ""))


visible_chars = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list("<>&\n \u200f\u2068\u2069بغداد😀")),
    ),
    max_size=400,
)


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.tuples(visible_chars, st.sampled_from(["", "b", "i", "code"])), max_size=8))
def test_every_part_is_valid_within_limits_and_the_text_round_trips(chunks: list[tuple[str, str]]) -> None:
    text = "".join(f"<{tag}>{html.escape(s)}</{tag}>" if tag else html.escape(s) for s, tag in chunks)
    parts = split_message(text, limit=50, max_entities=3)
    for part in parts:
        check_part(part, 50, max_entities=3)
    joined = "".join(visible_text(p) for p in parts)
    original = visible_text(text)
    # Parts that would be only whitespace are dropped; everything else comes back in order.
    assert "".join(joined.split()) == "".join(original.split())

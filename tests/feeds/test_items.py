"""build_items: stable ids, clean text, UTC dates, authors, enclosures, language order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.feeds.items import MAX_TITLE, build_items
from service.feeds.parse import parse_feed
from service.models import Enclosure, Item
from tests.feeds.conftest import fixture_bytes, rss, rss_item

NOW = datetime(2021, 6, 10, 12, 0, tzinfo=UTC)


def items_of(body: str | bytes, *, feed: str = "shafaq", language: str | None = "ar") -> list[Item]:
    data = body.encode() if isinstance(body, str) else body
    return build_items(parse_feed(data, {}), feed=feed, language=language, now=NOW)


def test_rss20_items_carry_clean_text_dates_author_and_enclosures() -> None:
    first, second = items_of(fixture_bytes("rss20.xml"))
    assert first.title == "صواريخ كاتيوشا تستهدف محيط مطار بغداد الدولي"
    assert first.summary == "سقطت ثلاثة صواريخ كاتيوشا قرب قاعدة فكتوريا."
    assert first.content == (
        "سقطت ثلاثة صواريخ كاتيوشا قرب قاعدة فكتوريا المجاورة لمطار بغداد الدولي.\n\n"
        "ولم تسفر الهجمات عن إصابات بشرية."
    )
    assert "track()" not in first.content
    assert first.published == datetime(2021, 6, 10, 5, 0, tzinfo=UTC)
    assert first.author == "Shafaq News"
    assert first.enclosures == (Enclosure("https://shafaq.example/media/12345.jpg", "image/jpeg", 48213),)
    assert first.url.startswith("https://shafaq.example/ar/security/12345")
    assert second.published == datetime(2021, 6, 10, 3, 15, tzinfo=UTC)
    assert second.summary == "A drone was shot down & no damage was reported."


def test_language_prefers_item_xml_lang_then_feed_then_hint() -> None:
    arabic, english = items_of(fixture_bytes("rss20.xml"), language="fa")
    assert (arabic.language, english.language) == ("ar", "en")
    persian, english_entry = items_of(fixture_bytes("atom.xml"), language="ar")
    assert (persian.language, english_entry.language) == ("fa", "en")
    hinted = items_of(rss(rss_item(guid="1", title="x")), language="ar-IQ")
    assert hinted[0].language == "ar"


def test_atom_entries_use_html_and_xhtml_types() -> None:
    persian, english = items_of(fixture_bytes("atom.xml"))
    assert persian.title == "قاآنی در بغداد"
    assert persian.content == "اسماعیل قاآنی وارد بغداد شد.\n\nپاراگراف دوم."
    assert persian.author == "دبیر سرویس"
    assert persian.published == datetime(2021, 6, 10, 4, 0, tzinfo=UTC)
    assert persian.updated == datetime(2021, 6, 10, 4, 15, tzinfo=UTC)
    assert english.summary == "Hello world"
    assert english.published == datetime(2021, 6, 10, 7, 0, tzinfo=UTC)  # no <published>: <updated>


@pytest.mark.parametrize("name", ["rss091.xml", "rss10.rdf", "rss20.xml", "atom.xml"])
def test_ids_are_stable_across_polls_and_unique_within_a_feed(name: str) -> None:
    first = [item.id for item in items_of(fixture_bytes(name))]
    again = [item.id for item in items_of(fixture_bytes(name))]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(len(item_id) == 32 for item_id in first)


def test_ids_fall_back_from_guid_to_canonical_link_to_title_and_date() -> None:
    by_guid = items_of(rss(rss_item(guid="g-1", title="a", link="https://x.example/1")))
    retitled = items_of(rss(rss_item(guid="g-1", title="edited title", link="https://x.example/1?v=2")))
    assert by_guid[0].id == retitled[0].id  # an edit keeps its id
    by_link = items_of(rss(rss_item(title="a", link="https://X.example/1?utm_source=rss#top")))
    same_link = items_of(rss(rss_item(title="b", link="https://x.example/1")))
    assert by_link[0].id == same_link[0].id
    by_hash = items_of(rss(rss_item(title="only a title", date="Thu, 10 Jun 2021 05:00:00 GMT")))
    other_date = items_of(rss(rss_item(title="only a title", date="Thu, 10 Jun 2021 06:00:00 GMT")))
    assert by_hash[0].id != other_date[0].id


def test_ids_do_not_depend_on_the_feed_url_but_on_the_feed_name() -> None:
    body = rss(rss_item(guid="1", title="a"))
    assert items_of(body, feed="a")[0].id != items_of(body, feed="b")[0].id


def test_a_guid_repeated_in_one_feed_is_disambiguated_independently_of_order() -> None:
    entries = [
        rss_item(guid="https://site.example/", title="one", link="https://site.example/1"),
        rss_item(guid="https://site.example/", title="two", link="https://site.example/2"),
        rss_item(guid="unique", title="three", link="https://site.example/3"),
    ]
    forward = {item.title: item.id for item in items_of(rss("".join(entries)))}
    backward = {item.title: item.id for item in items_of(rss("".join(reversed(entries))))}
    assert forward == backward
    assert len(set(forward.values())) == 3


def test_repeated_guid_and_link_still_give_distinct_ids() -> None:
    entry = rss_item(guid="same", title="x", link="https://site.example/same")
    ids = [item.id for item in items_of(rss(entry * 3))]
    assert len(set(ids)) == 3


def test_missing_or_future_dates_become_now() -> None:
    missing, future = items_of(
        rss(
            rss_item(guid="1", title="a")
            + rss_item(guid="2", title="b", date="Sat, 10 Jun 2045 05:00:00 GMT")
        )
    )
    assert missing.published == NOW
    assert missing.updated is None
    assert future.published == NOW


def test_entries_missing_every_field_do_not_crash() -> None:
    items = items_of(rss("<item></item><item><description>only text</description></item>"))
    assert len(items) == 2
    assert len({item.id for item in items}) == 2
    assert items[0].title == ""
    assert items[1].summary == "only text"


def test_plain_text_titles_keep_their_characters_and_long_fields_are_capped() -> None:
    item = items_of(rss(rss_item(guid="1", title="5 &lt; 6 &amp; R&amp;D" + " word" * 1000)))[0]
    assert item.title.startswith("5 < 6 & R&D word")
    assert len(item.title) <= MAX_TITLE


def test_items_without_any_language_hint_still_build() -> None:
    feed = rss(rss_item(guid="1", title="Rockets hit Balad air base"))
    item = build_items(parse_feed(feed.encode(), {}), feed="f", language=None, now=NOW)[0]
    assert item.title == "Rockets hit Balad air base"  # the language itself depends on service.text


def _both_paths(body: bytes) -> tuple[list[Item], list[Item]]:
    fast = build_items(parse_feed(body, {}), feed="f", language=None, now=NOW)
    slow = build_items(parse_feed(body, {}, fast=False), feed="f", language=None, now=NOW)
    return fast, slow


EXTRA_FEEDS = {
    "rss-guid-permalink": rss(
        rss_item(guid="https://x.example/a", title="a")
        + '<item><title>b</title><guid isPermaLink="false">b-1</guid><dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "2021-06-10T08:00:00Z</dc:date><author>desk@x.example (Desk)</author></item>"
    ),
    "rss-content-only": rss(
        '<item xmlns:content="http://purl.org/rss/1.0/modules/content/"><guid>c</guid>'
        "<content:encoded>&lt;p&gt;one&lt;/p&gt;&lt;p&gt;two&lt;/p&gt;</content:encoded></item>"
    ),
    "atom-plain": (
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ar"><title>t</title>'
        '<entry><id>1</id><title type="html">&lt;b&gt;عنوان&lt;/b&gt;</title><link href="https://x.example/1"/>'
        '<updated>2021-06-10T08:00:00+03:00</updated><content type="html">&lt;p&gt;نص&lt;/p&gt;</content>'
        '<link rel="enclosure" href="https://x.example/a.mp3" type="audio/mpeg" length="10"/>'
        "<author><name>أ</name></author><author><name>ب</name></author></entry></feed>"
    ),
}


@pytest.mark.parametrize("name", ["rss10.rdf", "rss20.xml", "atom.xml", "rss091.xml", *EXTRA_FEEDS])
def test_the_fast_path_and_feedparser_build_identical_items(name: str) -> None:
    body = EXTRA_FEEDS[name].encode() if name in EXTRA_FEEDS else fixture_bytes(name)
    fast, slow = _both_paths(body)
    assert fast == slow
    assert fast

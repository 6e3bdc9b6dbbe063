"""parse_feed: formats, encodings, and hostile input (only FeedParseError ever escapes)."""

from __future__ import annotations

import contextlib
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.errors import FeedParseError
from service.feeds.parse import parse_feed
from tests.feeds.conftest import fixture_bytes, rss, rss_item

ARABIC_TITLE = "انفجار في بيروت قرب المرفأ"


@pytest.mark.parametrize(
    ("name", "version", "title", "count"),
    [
        ("rss091.xml", "rss091n", "Wire Service Headlines", 2),
        ("rss10.rdf", "rss10", "أخبار العراق", 2),
        ("rss20.xml", "rss20", "شفق نيوز", 2),
        ("atom.xml", "atom10", "خبرگزاری نمونه", 2),
    ],
)
def test_every_feed_format_parses(name: str, version: str, title: str, count: int) -> None:
    parsed = parse_feed(fixture_bytes(name), {})
    assert (parsed.version, parsed.title, len(parsed.entries), parsed.bozo) == (version, title, count, False)


def test_feed_level_facts_are_read() -> None:
    parsed = parse_feed(fixture_bytes("rss20.xml"), {"content-type": "application/rss+xml; charset=utf-8"})
    assert (parsed.language, parsed.ttl_seconds, parsed.link) == ("ar", 900.0, "https://shafaq.example/ar")
    rdf = parse_feed(fixture_bytes("rss10.rdf"), {})
    assert (rdf.language, rdf.ttl_seconds) == ("ar", 900.0)  # sy:updatePeriod hourly, frequency 4
    assert parse_feed(fixture_bytes("rss091.xml"), {}).language == "en"


def _arabic_feed(declaration: str) -> bytes:
    return rss(rss_item(guid="1", title=ARABIC_TITLE), declaration=declaration).encode("cp1256")


@pytest.mark.parametrize(
    ("declaration", "header"),
    [
        ("windows-1256", None),
        ("windows-1256", "text/xml; charset=utf-8"),  # the server lies, the document is right
        ("utf-8", None),  # the document lies
        ("iso-8859-1", None),  # latin-1 accepts every byte: the silent-mojibake case
        ("windows-1252", None),
        ("iso-8859-1", "application/rss+xml; charset=ISO-8859-1"),
    ],
)
def test_arabic_windows_1256_is_read_however_it_is_labelled(declaration: str, header: str | None) -> None:
    parsed = parse_feed(_arabic_feed(declaration), {"content-type": header} if header else {})
    assert parsed.entries[0]["title"] == ARABIC_TITLE
    assert parsed.encoding == "cp1256"


def test_a_repaired_label_is_reported_as_bozo() -> None:
    parsed = parse_feed(_arabic_feed("iso-8859-1"), {})
    assert parsed.bozo
    assert parsed.bozo_reason
    assert "iso8859-1" in parsed.bozo_reason


def test_per_feed_encoding_override_wins() -> None:
    body = rss(rss_item(guid="1", title="ÇáÏæáí"), declaration="utf-8").encode("utf-8")
    assert parse_feed(body, {}, encoding="utf-8").entries[0]["title"] == "ÇáÏæáí"
    assert parse_feed(_arabic_feed("utf-8"), {}, encoding="cp1256").entries[0]["title"] == ARABIC_TITLE
    with pytest.raises(FeedParseError, match="unknown encoding"):
        parse_feed(_arabic_feed("utf-8"), {}, encoding="no-such-codec")


def test_french_latin1_is_not_mistaken_for_arabic() -> None:
    title = "Les élèves déçus: grève générale à Montréal, café fermé"
    parsed = parse_feed(rss(rss_item(guid="1", title=title), declaration="iso-8859-1").encode("latin-1"), {})
    assert parsed.entries[0]["title"] == title


def test_utf8_mislabelled_as_latin1_is_read_as_utf8() -> None:
    body = rss(rss_item(guid="1", title=ARABIC_TITLE), declaration="iso-8859-1").encode("utf-8")
    assert (
        parse_feed(body, {"content-type": "text/xml; charset=iso-8859-1"}).entries[0]["title"] == ARABIC_TITLE
    )


@pytest.mark.parametrize("codec", ["utf-16", "utf-8-sig", "utf-32"])
def test_byte_order_marks_are_honoured(codec: str) -> None:
    body = rss(rss_item(guid="1", title=ARABIC_TITLE), declaration=codec.removesuffix("-sig")).encode(codec)
    assert parse_feed(body, {}).entries[0]["title"] == ARABIC_TITLE


def test_a_bozo_feed_with_entries_is_returned_with_its_entries() -> None:
    items = "".join(rss_item(guid=str(n), title=f"story {n} & more") for n in range(3))  # bare "&"
    parsed = parse_feed(rss(items).encode(), {})
    assert parsed.bozo
    assert len(parsed.entries) == 3


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"<!DOCTYPE html><html><head><title>Login</title></head><body><p>Please sign in</p></body></html>",
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        b"<!-- cached --><!doctype HTML><html lang=ar><body>\xd8\xae\xd8\xb7\xd8\xa3</body></html>",
        b'{"error": "not found"}',
        b"Service temporarily unavailable",
    ],
    ids=["empty", "blank", "login", "502", "commented", "json", "text"],
)
def test_things_that_are_not_feeds_raise_feed_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body, {"content-type": "text/html"})


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title></channel></rss>"""


def _quadratic(entity_size: int, references: int, prolog: bytes = b"") -> bytes:
    return (
        prolog
        + b'<!DOCTYPE rss [<!ENTITY a "'
        + b"x" * entity_size
        + b'">]><rss version="2.0"><channel><title>t</title><item><description>'
        + b"&a;" * references
        + b"</description></item></channel></rss>"
    )


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        _quadratic(100_000, 20_000),
        _quadratic(20_000, 5_000, prolog=b"<!-- a -- b -->"),  # malformed prolog that fooled defusedxml
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/hostname">]><rss><channel>'
        b"<title>&xxe;</title></channel></rss>",
        b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><rss/>',
        b'<!DOCTYPE r [<!entity a "C:\\data">]><rss version="2.0"><channel><title>&a;</title></channel></rss>',
        "<?xml version='1.0' encoding='utf-16'?><!DOCTYPE r [<!ENTITY a 'x'>]><rss/>".encode("utf-16"),
    ],
    ids=[
        "billion-laughs",
        "quadratic",
        "quadratic-bad-prolog",
        "xxe",
        "parameter-entity",
        "backslash",
        "utf16",
    ],
)
def test_entity_declarations_are_refused_before_feedparser_runs(body: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(FeedParseError, match="entities"):
        parse_feed(body, {})
    assert time.perf_counter() - started < 1.0


def test_entity_text_inside_cdata_is_allowed() -> None:
    item = rss_item(
        guid="1", title="XML tips", extra="<description><![CDATA[use <!ENTITY x 'y'> rarely]]></description>"
    )
    assert len(parse_feed(rss(item).encode(), {}).entries) == 1


def test_an_external_dtd_is_neither_fetched_nor_fatal() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:9/rss.dtd">'
        b'<rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>'
    )
    assert len(parse_feed(body, {}).entries) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="utf\x00-8"?><rss/>',
        b'<?xml version="1.0" encoding="utf\x00-8"?><rss version="2.0"><channel><title>t</title></channel></rss>',
        rss(rss_item(guid="1", title="&#1114112;")).encode(),
        rss(rss_item(guid="1", title="&#55296;")).encode(),
        rss(rss_item(guid="1", title="a\x00b")).encode(),
        b"\x00" * 64,
        b"<rss version='2.0'><channel><title>\xff\xfe\x00</title>",
    ],
    ids=[
        "nul-in-encoding",
        "nul-in-encoding-channel",
        "chr-out-of-range",
        "surrogate",
        "nul-in-text",
        "nuls",
        "junk",
    ],
)
def test_inputs_that_crash_feedparser_raise_only_feed_parse_error(body: bytes) -> None:
    with contextlib.suppress(FeedParseError):
        parse_feed(body, {})


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_raise_nothing_but_feed_parse_error_and_finish_fast(body: bytes) -> None:
    started = time.perf_counter()
    with contextlib.suppress(FeedParseError):
        parse_feed(body, {})
    assert time.perf_counter() - started < 2.0


def _mutations(seed: bytes, count: int, rng: random.Random) -> list[bytes]:
    mutated = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[position] = rng.randrange(256)
            elif choice < 0.7:
                del data[position : position + rng.randint(1, 20)]
            else:
                data[position:position] = rng.choice(
                    [b"&#1114112;", b"<", b"&", b"\x00", b"]]>", b"<![CDATA["]
                )
        mutated.append(bytes(data))
    return mutated


@pytest.mark.parametrize("name", ["rss091.xml", "rss10.rdf", "rss20.xml", "atom.xml"])
def test_mutated_real_feeds_raise_nothing_but_feed_parse_error(name: str) -> None:
    for body in _mutations(fixture_bytes(name), 150, random.Random(name)):
        with contextlib.suppress(FeedParseError):
            parse_feed(body, {})

"""OPML import: one [[feeds]] block per subscription, unique slug names, valid TOML."""

from __future__ import annotations

import tomllib

import pytest

from service.feeds.opml import OpmlError, opml_to_toml

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Iraq" title="Iraq">
      <outline type="rss" text="Shafaq News" title="Shafaq News" xmlUrl="https://shafaq.example/rss" htmlUrl="https://shafaq.example/"/>
      <outline type="rss" text="شفق نيوز" xmlUrl="https://shafaq.example/ar/rss"/>
      <outline type="rss" text="Shafaq News" xmlUrl="https://shafaq.example/en/rss?a=1&amp;b=&quot;2&quot;"/>
    </outline>
    <outline type="rss" text="" xmlUrl="http://wire.example/feed"/>
    <outline type="rss" text="Local" xmlUrl="file:///etc/passwd"/>
  </body>
</opml>
""".encode()


def test_opml_becomes_valid_toml_with_unique_slug_names() -> None:
    feeds = tomllib.loads(opml_to_toml(OPML))["feeds"]
    assert [feed["name"] for feed in feeds] == ["shafaq-news", "shfq-nywz", "shafaq-news-2", "wire-example"]
    assert feeds[2]["url"] == 'https://shafaq.example/en/rss?a=1&b="2"'
    assert all(feed["url"].startswith("http") for feed in feeds)


def test_categories_are_kept_as_comments() -> None:
    assert "# Shafaq News (category: Iraq)" in opml_to_toml(OPML)


@pytest.mark.parametrize(
    "data",
    [b"<opml><body>", b'<!DOCTYPE o [<!ENTITY a "b">]><opml><body/></opml>', b"\x00\x01"],
    ids=["truncated", "entity", "binary"],
)
def test_bad_opml_raises_a_user_error(data: bytes) -> None:
    with pytest.raises(OpmlError):
        opml_to_toml(data)

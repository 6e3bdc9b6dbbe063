"""What `newsalert match` reads: a feed, an HTML page or plain text, from a file, a URL or stdin.

The kind is told from the content, not the name: a feed's root element, an HTML document's tags, or
else plain text.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from service.errors import FeedError, UserError
from service.feeds.fetch import Fetcher, FetchLimits
from service.feeds.html import extract_article, html_to_text
from service.feeds.items import build_items
from service.feeds.parse import parse_feed
from service.models import Item
from service.text import detect_language

_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:rdf)[\s>]", re.IGNORECASE)
_HTML = re.compile(rb"<(!doctype html|html|head|body|p|div|article)[\s>]", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def sniff(data: bytes) -> str:
    """`feed`, `html` or `text`, from the first few kilobytes."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if _FEED_ROOT.search(head):
        return "feed"
    if _HTML.search(head):
        return "html"
    return "text"


def load_source(source: str, *, fetch_limits: FetchLimits, user_agent: str) -> list[Item]:
    data, headers, name = _read(source, fetch_limits, user_agent)
    now = datetime.now(UTC)
    kind = sniff(data)
    if kind == "feed":
        parsed = parse_feed(data, headers)
        return build_items(parsed, feed=name, language=None, now=now)
    text = data.decode("utf-8", "replace")
    if kind == "html":
        return [_html_item(text, name, source)]
    return [_text_item(text, name)]


def _read(source: str, limits: FetchLimits, user_agent: str) -> tuple[bytes, dict[str, str], str]:
    if source == "-":
        return sys.stdin.buffer.read(), {}, "stdin"
    if re.match(r"^https?://", source, re.IGNORECASE):
        return asyncio.run(_fetch(source, limits, user_agent)), {}, source
    try:
        return Path(source).read_bytes(), {}, Path(source).name
    except OSError as exc:
        raise UserError(f"{source}: {exc.strerror}") from exc


async def _fetch(url: str, limits: FetchLimits, user_agent: str) -> bytes:
    try:
        async with Fetcher(limits, user_agent=user_agent) as fetcher:
            result = await fetcher.fetch_feed(url, etag=None, last_modified=None)
    except FeedError as exc:
        raise UserError(f"{url}: {exc}") from exc
    return result.body


def _html_item(page: str, name: str, source: str) -> Item:
    title_match = _TITLE.search(page)
    title = html_to_text(title_match.group(1)) if title_match else ""
    content = extract_article(page) or html_to_text(page)
    url = source if source.startswith(("http://", "https://")) else ""
    return Item(
        id=_digest(content),
        feed=name,
        title=title,
        url=url,
        content=content,
        language=detect_language(f"{title}\n{content}"),
    )


def _text_item(text: str, name: str) -> Item:
    # Plain text has no title of its own: all of it is content, so nothing is matched twice.
    return Item(id=_digest(text), feed=name, content=text, language=detect_language(text))


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]

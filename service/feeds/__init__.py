"""Feed ingestion: fetch (aiohttp adapter, SSRF guard) → parse (safe feedparser) → items.

Pure modules: `parse`, `items`, `html`, `urls`, `schedule`, `charset`, `opml`, `result`.
I/O: `fetch` (aiohttp) and `guard` (its connect-time address check).
"""

from service.feeds.items import build_items
from service.feeds.parse import ParsedFeed, parse_feed
from service.feeds.result import FetchResult
from service.feeds.schedule import next_state_after_failure, next_state_after_success
from service.feeds.urls import canonical_url

__all__ = [
    "FetchResult",
    "ParsedFeed",
    "build_items",
    "canonical_url",
    "next_state_after_failure",
    "next_state_after_success",
    "parse_feed",
]

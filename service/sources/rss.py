"""RSS and Atom feeds (the default kind): a URL (`http(s)://` or `file:`) whose body is a feed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import field_validator

from service.feeds.items import FeedEntries
from service.feeds.parse import parse_feed
from service.feeds.result import FetchResult
from service.models import Feed, Reading
from service.registry import SourceType
from service.sources.base import FeedOptions


class RssOptions(FeedOptions):
    type: Literal["rss"] = "rss"
    url: str
    encoding: str | None = None

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not re.match(r"^(https?://|file:)", url, re.IGNORECASE):
            raise ValueError("must start with http://, https://, file:// (or file:relative/path)")
        return url


@dataclass(frozen=True, slots=True)
class RssReader:
    """Parses RSS 0.9x/1.0/2.0 and Atom; `encoding` overrides what the feed and its headers declare."""

    encoding: str | None = None

    def read(self, feed: Feed, result: FetchResult, now: datetime) -> Reading:
        parsed = parse_feed(result.body, result.headers, encoding=self.encoding)
        entries = FeedEntries(parsed, feed=feed.name, language=feed.language, now=now)
        malformed = (parsed.bozo_reason or "malformed") if parsed.bozo else None
        return Reading(
            entries.ids, entries.dates, entries.build, parsed.ttl_seconds, malformed, entries.declared
        )


SOURCE = SourceType(
    "rss",
    RssOptions,
    locate=lambda options: options.url,
    reader=lambda options: RssReader(options.encoding),
    describe=lambda options: options.url,
)

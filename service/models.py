"""Plain frozen values that travel through the pipeline: poll → parse → match → dedup → deliver.

Nothing here does I/O; every stage takes and returns these.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from service.feeds.result import FetchResult

FIELDS = ("title", "summary", "content")


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str = ""
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One feed entry as plain text, with a stable id.

    `published` is timezone-aware UTC, or None when the feed gave no usable date.
    """

    id: str
    feed: str
    title: str = ""
    url: str = ""
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    author: str = ""
    language: str | None = None
    enclosures: tuple[Enclosure, ...] = ()

    def field_text(self, name: str) -> str:
        if name not in FIELDS:
            raise ValueError(f"unknown field {name!r}")
        return str(getattr(self, name))


class Hit(NamedTuple):
    """One place where a query term occurred: `text` is the surface form exactly as written.

    A named tuple rather than a frozen dataclass: the matcher builds one per hit of every
    watchlist that fires, and a tuple is built without a Python-level __init__.
    """

    term: str
    text: str
    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Match:
    """One watchlist that fired on one item, with why."""

    watchlist: str
    hits: tuple[Hit, ...]
    entities: tuple[str, ...] = ()
    score: float | None = None


class EntityKind(StrEnum):
    PERSON = "person"
    ORG = "org"
    PLACE = "place"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class EntityDef:
    name: str
    kind: EntityKind = EntityKind.OTHER
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WatchlistDef:
    """A watchlist as the matcher sees it (no sinks: delivery is not its business)."""

    name: str
    query: str
    feeds: tuple[str, ...] = ("*",)
    languages: tuple[str, ...] = ()
    min_score: float | None = None


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Everything a query may refer to: concepts, entities, and extra plural forms."""

    concepts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    entities: tuple[EntityDef, ...] = ()
    plurals: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed as the pipeline sees it: what to poll and how a first poll behaves.

    `backfill` is in seconds (`math.inf` for "all"): on a feed's first poll, items published within
    that window alert; older and undated ones are only remembered. `adaptive` is True when the feed
    set no interval of its own: its interval then follows its publishing cadence within bounds.
    """

    name: str
    url: str
    reader: FeedReader
    interval: float = 300.0
    language: str | None = None
    backfill: float = 0.0
    full_text: bool = False
    enabled: bool = True
    adaptive: bool = False


@dataclass(frozen=True, slots=True)
class Reading:
    """What a fetched body held, read in two steps so a poll pays only for news: every entry's item
    id and date (cheap), and `build`, which makes the Items of the ids asked for (HTML to text,
    language detection: the costly part), with a language to stand in for detection. Also the
    polling hint the body gave (RSS `<ttl>`), why it was malformed when it was (the entries are then
    what could be recovered), and the language the source declares (None: items' are detected)."""

    ids: Sequence[str]
    dates: Sequence[datetime | None]
    build: Callable[[Collection[str] | None, str | None], list[Item]]
    ttl_seconds: float | None = None
    malformed: str | None = None
    declared_language: str | None = None


class FeedReader(Protocol):
    """How one kind of source turns a fetched body into items. Pure: no I/O, `now` given.

    Readers are compared by value (a config reload that changes nothing keeps the feed as it is)."""

    def read(self, feed: Feed, result: FetchResult, now: datetime) -> Reading: ...


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers about one feed between polls."""

    name: str
    url: str | None = None  # the URL after a permanent redirect, when there was one
    etag: str | None = None
    last_modified: str | None = None
    next_poll: datetime | None = None
    failures: int = 0
    last_success: datetime | None = None
    last_error: str | None = None
    disabled_reason: str | None = None
    first_polled: datetime | None = None
    body_hash: str | None = None  # of the last body read: the same body again is not parsed
    language: str | None = None  # learned: every item of a feed that declares none was this language
    language_items: int = 0  # how many items in a row were detected as `language`
    late: float | None = None  # how many seconds after its due time the last poll started


@dataclass(frozen=True, slots=True)
class Breaking:
    """A watchlist's `breaking` option: one extra alert when an event reaches `outlets` distinct
    outlets whose copies were published within `within` seconds of each other."""

    outlets: int
    within: float


@dataclass(frozen=True, slots=True)
class Outlet:
    """One feed's copy of an event: which feed, in what language, where, and when (epoch seconds:
    its publication time, or when it was seen if undated)."""

    feed: str
    language: str | None = None
    url: str = ""
    at: float = 0.0

    @property
    def label(self) -> str:
        """How a message names it: the feed, and its language when known ("irna (fa)")."""
        return f"{self.feed} ({self.language})" if self.language else self.feed

    def to_json(self) -> dict[str, str | None]:
        return {"feed": self.feed, "language": self.language, "url": self.url}


@dataclass(frozen=True, slots=True)
class Alert:
    """One (watchlist, event) worth telling someone about.

    `also_reported_by` lists the other outlets known to have carried the event, first copy first.
    A `breaking` alert is the extra one a watchlist's `breaking` option sends when an event reaches
    that many outlets at once: its id is its own, and it lists every outlet.
    """

    id: str
    watchlist: str
    item: Item
    match: Match
    also_reported_by: tuple[Outlet, ...] = ()
    breaking: bool = False

    def to_json_body(self) -> dict[str, object]:
        """The body the webhook sink posts in its `json` format (also what the console sink prints)."""
        item = self.item
        return {
            "id": self.id,
            "watchlist": self.watchlist,
            "title": item.title,
            "url": item.url,
            "feed": item.feed,
            "published": _iso(item.published),
            "language": item.language,
            "summary": item.summary,
            "hits": self.distinct_hits(),
            "entities": list(self.match.entities),
            "also_reported_by": [o.to_json() for o in self.also_reported_by],
            "breaking": self.breaking,
        }

    def distinct_hits(self) -> list[dict[str, str]]:
        """Hits as (term, text, field), each once, in the order found.

        The body carries no offsets, so a name repeated ten times in an article would be ten identical
        entries; the occurrences stay available to templates through `match.hits`.
        """
        seen: dict[tuple[str, str, str], None] = {}
        for hit in self.match.hits:
            seen.setdefault((hit.term, hit.text, hit.field), None)
        return [{"term": term, "text": text, "field": field} for term, text, field in seen]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

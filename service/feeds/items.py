"""feedparser entries → `Item`s: stable ids, plain text, UTC dates, language.

Item ids are `sha256(feed name, key)[:32]` where the key is, in order of preference:

1. `guid:<guid>`; when one guid appears on several entries of the same document (a CMS bug), every
   such entry gets `guid:<guid>|<canonical link>` (or `|<title and date hash>` when the links are
   equal too, or `|#n` as a last resort), so the ids do not depend on entry order;
2. `link:<canonical link>` (tracking parameters and fragment removed);
3. `hash:<title>|<date>` as written in the feed (falling back to summary and content).

The feed's URL is not part of the key, so a feed that moves (301) does not re-alert. The feed name
is, so two feeds using the same guids ("1", "2", ...) never collide. An edited entry keeps its guid
and therefore its id: edits are not new alerts.
"""

from __future__ import annotations

import calendar
import hashlib
import importlib
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from service.feeds.html import html_to_text
from service.feeds.parse import ParsedFeed, normalise_language
from service.feeds.urls import canonical_url
from service.models import Enclosure, Item

MAX_TITLE = 1_000
MAX_SUMMARY = 20_000
MAX_CONTENT = 200_000
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_DETECTION_SAMPLE = 2_000


def build_items(parsed: ParsedFeed, *, feed: str, language: str | None, now: datetime) -> list[Item]:
    """One Item per entry, in feed order (see the module docstring for ids).

    Text fields are HTML-stripped and capped (title 1,000, summary 20,000, content 200,000
    characters). Dates are UTC; a missing published date, or one in the future, becomes `now`.
    Language: the entry's xml:lang, else the feed's xml:lang or `<language>`, else the `language`
    hint from the config, else `service.text.detect_language` on the text.
    """
    return FeedEntries(parsed, feed=feed, language=language, now=now).build()


class FeedEntries:
    """A parsed feed's entries, read in two steps so a poll pays only for news: `ids` and `dates`
    are cheap (a guid or link and a date per entry); `build` does the costly part (HTML to text,
    language detection) for the entries asked for, typically the few the store has not seen."""

    __slots__ = ("_entries", "_feed", "_now", "dates", "declared", "ids")

    def __init__(self, parsed: ParsedFeed, *, feed: str, language: str | None, now: datetime) -> None:
        self._entries = parsed.entries
        self._feed, self._now = feed, now
        # What the feed (or its config) says its language is; None leaves it to detection.
        self.declared = parsed.language or normalise_language(language)
        self.ids = [_item_id(feed, key) for key in _entry_keys(parsed.entries)]
        self.dates = [
            _entry_date(entry, ("published_parsed", "updated_parsed"), now) for entry in parsed.entries
        ]

    def build(self, wanted: Collection[str] | None = None, language: str | None = None) -> list[Item]:
        """The Items of the entries whose id is in `wanted` (all when None), in feed order.
        `language` stands in for detection on a feed that declares none (a language it learned)."""
        fallback = self.declared or language
        detect = None if fallback else _language_detector()
        return [
            _build_item(entry, item_id, feed=self._feed, language=fallback, now=self._now, detect=detect)
            for entry, item_id in zip(self._entries, self.ids, strict=True)
            if wanted is None or item_id in wanted
        ]


def _build_item(
    entry: Mapping[str, Any],
    item_id: str,
    *,
    feed: str,
    language: str | None,
    now: datetime,
    detect: Callable[[str], str | None] | None,
) -> Item:
    title = _field_text(entry, "title")[:MAX_TITLE]
    summary = _field_text(entry, "summary")[:MAX_SUMMARY]
    content = _content_text(entry)[:MAX_CONTENT]
    return Item(
        id=item_id,
        feed=feed,
        title=title,
        url=_string(entry.get("link")),
        summary=summary,
        content=content,
        published=_entry_date(entry, ("published_parsed", "updated_parsed"), now) or now,
        updated=_entry_date(entry, ("updated_parsed",), now),
        author=_author(entry),
        language=_entry_language(entry) or language or _detect_language(detect, title, summary, content),
        enclosures=_enclosures(entry),
    )


def _entry_keys(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    guids = [_string(entry.get("id")) for entry in entries]
    repeated = {guid for guid, count in Counter(guids).items() if guid and count > 1}
    keys = [_plain_key(entry, guid) for entry, guid in zip(entries, guids, strict=True)]
    seen: Counter[str] = Counter()
    for index, (entry, guid) in enumerate(zip(entries, guids, strict=True)):
        if guid in repeated:
            key = f"guid:{guid}|{_link_or_hash(entry)}"
            seen[key] += 1
            keys[index] = key if seen[key] == 1 else f"{key}|#{seen[key]}"
    return keys


def _plain_key(entry: Mapping[str, Any], guid: str) -> str:
    return f"guid:{guid}" if guid else _link_or_hash(entry)


def _link_or_hash(entry: Mapping[str, Any]) -> str:
    link = _string(entry.get("link"))
    if link:
        return f"link:{canonical_url(link)}"
    date = _string(_raw(entry, "published")) or _string(_raw(entry, "updated"))
    text = _string(entry.get("title")) or _string(entry.get("summary")) or _content_raw(entry)
    return f"hash:{_digest(text + '|' + date)}"


def _item_id(feed: str, key: str) -> str:
    return _digest(f"{feed}\n{key}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


def _field_text(entry: Mapping[str, Any], name: str) -> str:
    value = _string(entry.get(name))
    detail = entry.get(f"{name}_detail")
    kind = detail.get("type") if isinstance(detail, Mapping) else None
    return _to_text(value, kind)


def _content_text(entry: Mapping[str, Any]) -> str:
    parts = [_to_text(_string(part.get("value")), part.get("type")) for part in _content_parts(entry)]
    return "\n\n".join(part for part in parts if part)


def _content_raw(entry: Mapping[str, Any]) -> str:
    return "".join(_string(part.get("value")) for part in _content_parts(entry))


def _content_parts(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = entry.get("content")
    if not isinstance(content, list):
        return []
    return [part for part in content if isinstance(part, Mapping)]


def _to_text(value: str, kind: object) -> str:
    """HTML-typed values go through html_to_text; plain ones only have whitespace collapsed.

    Plain text also goes through html_to_text when it contains markup-looking `<tag` or `&name;`,
    because many feeds label escaped HTML as plain text.
    """
    if kind in _HTML_TYPES or _looks_like_html(value):
        return html_to_text(value)
    return " ".join(value.split())


def _looks_like_html(value: str) -> bool:
    return ("<" in value and ">" in value) or ("&" in value and ";" in value)


def _entry_date(entry: Mapping[str, Any], names: Sequence[str], now: datetime) -> datetime | None:
    for name in names:
        parsed = _raw(entry, name)
        if isinstance(parsed, time.struct_time):
            moment = _utc(parsed)
            if moment is not None:
                return min(moment, now)
    return None


def _utc(value: time.struct_time) -> datetime | None:
    try:  # feedparser's struct_time is already UTC
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _author(entry: Mapping[str, Any]) -> str:
    # Several Atom authors: join `authors` (feedparser's `author` keeps only the last). One author:
    # `author` as written, because feedparser mangles "desk@x.example (Desk)" inside `authors`.
    names = [_string(a.get("name")) for a in entry.get("authors") or () if isinstance(a, Mapping)]
    names = [name for name in names if name]
    author = ", ".join(names) if len(names) > 1 else _string(entry.get("author")) or "".join(names)
    return _to_text(author, None)[:MAX_TITLE]


def _entry_language(entry: Mapping[str, Any]) -> str | None:
    for name in ("title_detail", "summary_detail"):
        detail = entry.get(name)
        if isinstance(detail, Mapping) and detail.get("language"):
            return normalise_language(detail.get("language"))
    for part in _content_parts(entry):
        if part.get("language"):
            return normalise_language(part.get("language"))
    return None


def _detect_language(detect: Callable[[str], str | None] | None, *texts: str) -> str | None:
    if detect is None:
        return None
    sample = " ".join(texts)[:_DETECTION_SAMPLE]
    return detect(sample) if sample.strip() else None


def _language_detector() -> Callable[[str], str | None] | None:
    # Imported lazily and by name: service.text is another stage, built separately, and a missing
    # detector must only cost the language field, never the poll.
    try:
        detector: Callable[[str], str | None] = importlib.import_module("service.text").detect_language
    except (ImportError, AttributeError):
        return None
    return detector


def _enclosures(entry: Mapping[str, Any]) -> tuple[Enclosure, ...]:
    found = []
    for link in entry.get("enclosures") or ():
        if isinstance(link, Mapping) and _string(link.get("href")):
            found.append(
                Enclosure(url=_string(link.get("href")), type=_string(link.get("type")), length=_length(link))
            )
    return tuple(found)


def _length(link: Mapping[str, Any]) -> int | None:
    try:
        value = int(str(link.get("length", "")).strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def _raw(entry: Mapping[str, Any], key: str) -> Any:
    """The stored value only: feedparser's `get("updated")` falls back to `published` (with a
    DeprecationWarning), which would make every item look edited at publication time."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _string(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""

"""Alerts to and from plain JSON, so the outbox can hold them across restarts."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from service.models import Alert, Enclosure, FeedState, Hit, Item, Match, Outlet

_FEED_DATES = ("next_poll", "last_success", "first_polled")


def encode_alert(alert: Alert) -> str:
    item = alert.item
    record = {
        "id": alert.id,
        "watchlist": alert.watchlist,
        "breaking": alert.breaking,
        "also": [encode_outlet(o) for o in alert.also_reported_by],
        "item": {
            "id": item.id,
            "feed": item.feed,
            "title": item.title,
            "url": item.url,
            "summary": item.summary,
            "content": item.content,
            "published": _ts(item.published),
            "updated": _ts(item.updated),
            "author": item.author,
            "language": item.language,
            "enclosures": [[e.url, e.type, e.length] for e in item.enclosures],
        },
        "match": {
            "hits": [[h.term, h.text, h.field, h.start, h.end] for h in alert.match.hits],
            "entities": list(alert.match.entities),
            "score": alert.match.score,
        },
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def decode_alert(text: str) -> Alert:
    record = json.loads(text)
    raw_item: dict[str, Any] = record["item"]
    item = Item(
        id=raw_item["id"],
        feed=raw_item["feed"],
        title=raw_item["title"],
        url=raw_item["url"],
        summary=raw_item["summary"],
        content=raw_item["content"],
        published=_dt(raw_item["published"]),
        updated=_dt(raw_item["updated"]),
        author=raw_item["author"],
        language=raw_item["language"],
        enclosures=tuple(Enclosure(u, t, n) for u, t, n in raw_item["enclosures"]),
    )
    raw_match = record["match"]
    match = Match(
        watchlist=record["watchlist"],
        hits=tuple(Hit(*h) for h in raw_match["hits"]),
        entities=tuple(raw_match["entities"]),
        score=raw_match["score"],
    )
    also = tuple(decode_outlet(o) for o in record["also"])
    return Alert(record["id"], record["watchlist"], item, match, also, bool(record.get("breaking")))


def encode_outlet(outlet: Outlet) -> dict[str, Any]:
    return {"feed": outlet.feed, "language": outlet.language, "url": outlet.url, "at": outlet.at}


def decode_outlet(raw: object) -> Outlet:
    """An outlet as stored: an object, or (written before outlets had languages) a feed name."""
    if isinstance(raw, dict):
        return Outlet(
            str(raw["feed"]), raw.get("language"), str(raw.get("url") or ""), float(raw.get("at") or 0)
        )
    return Outlet(str(raw))


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _dt(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


def encode_feed_state(state: FeedState) -> str:
    record = asdict(state)
    for key in _FEED_DATES:
        record[key] = _ts(record[key])
    return json.dumps(record, ensure_ascii=False)


def decode_feed_state(text: str) -> FeedState:
    record = json.loads(text)
    for key in _FEED_DATES:
        record[key] = _dt(record.get(key))
    known = FeedState.__dataclass_fields__
    # Fields a newer version wrote and this one does not know are dropped, not fatal.
    return FeedState(**{k: v for k, v in record.items() if k in known})

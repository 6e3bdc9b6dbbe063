"""The multilingual event fixtures (`fixtures/items.toml`): reports of the same events by several
outlets in Arabic, Persian, Sorani and English, with the confusable cases beside them."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from service.events.anchors import default_finder
from service.events.link import EventRecord, Report, decide, report_of
from service.models import Item, Outlet
from service.state.fingerprint import fingerprint

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True, slots=True)
class Copy:
    id: str
    event: str  # the true event
    item: Item

    @property
    def outlet(self) -> Outlet:
        assert self.item.published is not None
        return Outlet(self.item.feed, self.item.language, self.item.url, self.item.published.timestamp())

    @property
    def report(self) -> Report:
        return _report(self.id)


@cache
def copies() -> tuple[Copy, ...]:
    """Every fixture report, oldest first."""
    raw = tomllib.loads((FIXTURES / "items.toml").read_text(encoding="utf-8"))["item"]
    out = []
    for entry in raw:
        published = datetime.fromisoformat(entry["published"].replace("Z", "+00:00"))
        item = Item(
            id=entry["id"],
            feed=entry["outlet"],
            title=entry["title"],
            url=f"https://{entry['outlet']}.example/news/{entry['id']}",
            content=entry["text"].strip(),
            summary=entry["text"].strip().split("\n")[0],
            published=published,
            language=entry["language"],
        )
        out.append(Copy(entry["id"], entry["event"], item))
    return tuple(sorted(out, key=lambda c: (c.item.published, c.id)))


def copy(copy_id: str) -> Copy:
    return next(c for c in copies() if c.id == copy_id)


@cache
def _report(copy_id: str) -> Report:
    return report_for(copy(copy_id).item)


def report_for(item: Item) -> Report:
    assert item.published is not None
    anchors = default_finder().find(item)
    return report_of(
        item.published.timestamp(), anchors, fingerprint(item.title, item.content or item.summary)
    )


def rss(copies: Iterable[Copy]) -> str:
    """An RSS document holding these copies, as their outlet's feed would."""
    entries = "".join(
        f"<item><guid>{escape(c.id)}</guid><title>{escape(c.item.title)}</title><link>{escape(c.item.url)}</link>"
        f"<pubDate>{format_datetime(c.item.published)}</pubDate><description>{escape(c.item.content)}</description></item>"
        for c in copies
        if c.item.published is not None
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'


def cluster(order: Iterable[Copy]) -> dict[str, str]:
    """Each copy's event id when the copies arrive in this order: what a store does, in memory."""
    events: list[EventRecord] = []
    assigned: dict[str, str] = {}
    for c in order:
        verdict = decide(c.report, events, 0.0)
        if verdict.event is None:
            event = EventRecord(c.id, (c.report,), (c.outlet,), float("inf"))
            events.append(event)
        else:
            event = verdict.event.joined(c.report, c.outlet, float("inf"))
            events[events.index(verdict.event)] = event
        assigned[c.id] = event.id
    return assigned


def pair_counts(assigned: dict[str, str]) -> tuple[int, int, int]:
    """(pairs of one event linked, pairs of two events linked, pairs of one event left apart)."""
    truth = {c.id: c.event for c in copies()}
    tp = fp = fn = 0
    for a, b in itertools.combinations(truth, 2):
        same, linked = truth[a] == truth[b], assigned[a] == assigned[b]
        tp += same and linked
        fp += linked and not same
        fn += same and not linked
    return tp, fp, fn

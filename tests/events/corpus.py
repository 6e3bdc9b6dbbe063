"""The multilingual event fixtures (`fixtures/items.toml`): reports of the same events by several
outlets in Arabic, Persian, Sorani and English, with the confusable cases beside them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from service.events.anchors import default_finder
from service.events.link import Report, report_of
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

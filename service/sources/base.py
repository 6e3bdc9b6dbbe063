"""The keys every `[[feeds]]` entry has, whatever its kind."""

from __future__ import annotations

from service.options import Backfill, Duration, Name, Options


class FeedOptions(Options):
    """A `[[feeds]]` entry's common keys; each source kind adds its own and narrows `type`."""

    name: Name
    type: str
    interval: Duration | None = None
    language: str | None = None
    backfill: Backfill = 0.0
    full_text: bool = False
    enabled: bool = True

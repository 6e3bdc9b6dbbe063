"""The wall clock, in one place: the composition root hands it to everything that needs `now`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)

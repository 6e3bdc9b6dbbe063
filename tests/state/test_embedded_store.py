"""What only the embedded store does: sweeping expired stories out of its file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.state.embedded import PURGE_EVERY, EmbeddedStore
from service.state.fingerprint import fingerprint
from tests.state.conftest import FIXTURES

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)


def count_rows(path: Path, table: str) -> int:
    with sqlite3.connect(path / "newsalert.sqlite3") as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_expired_stories_are_swept_out_of_the_file(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, story_ttl=10)
    await store.open()
    try:
        attack = fingerprint("", (FIXTURES / "airport-attack-a.txt").read_text(encoding="utf-8"))
        await store.find_or_add_story("a\x1f1", attack, "a", NOW)
        assert count_rows(tmp_path, "story_band") > 0
        await store.find_or_add_story("b\x1f1", None, "b", NOW + timedelta(seconds=PURGE_EVERY + 11))
        assert count_rows(tmp_path, "stories") == 1
        assert count_rows(tmp_path, "story_band") == 0
        assert count_rows(tmp_path, "story_item") == 1
    finally:
        await store.close()

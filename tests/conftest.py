"""Fixtures shared by the whole suite: an isolated environment, config files, Redis, loopback servers."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
pytest_plugins = ["tests.peers"]

REDIS_URL = os.environ.get("NEWSALERT_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's NEWSALERT_* variables or secrets."""
    for key in list(os.environ):
        if key.startswith("NEWSALERT_") and key != "NEWSALERT_TEST_REDIS":
            monkeypatch.delenv(key)


@pytest.fixture
def seed_text() -> str:
    return (FIXTURES / "seed-article.txt").read_text(encoding="utf-8")


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a TOML config into a temporary directory and return its path."""

    def make(body: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body), encoding="utf-8")
        return path

    return make


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    yield f"newsalert-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_client(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A client on the test database; every key under this test's prefix is removed afterwards."""
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - the CI script starts Redis; say so plainly if absent
        pytest.fail(f"Redis is not answering at {REDIS_URL}: {exc}")
    yield client
    keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()

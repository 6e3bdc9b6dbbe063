"""Fixtures shared by the whole suite: an isolated environment, config files, Redis, loopback servers."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

import service
from service.state.embedded import EmbeddedStore

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
pytest_plugins = ["tests.peers"]

REDIS_URL = os.environ.get("NEWSALERT_TEST_REDIS", "redis://127.0.0.1:6379/15")
# The fixtures that need a Redis server: the shared one at REDIS_URL, or redis-server processes of
# their own. A test that uses any of them, itself or through another fixture, is marked `redis`, so
# `pytest -m "not redis"` runs everything else on a machine without Redis.
REDIS_FIXTURES = frozenset({"redis_prefix", "redis_client", "own_prefix", "redis_server", "own_redis"})
# "compiled" or "python": the engine build a run means to test (CI runs the suite under each).
EXPECTED_BUILD = os.environ.get("NEWSALERT_EXPECT_BUILD", "")


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run the suite on another engine build than the one asked for."""
    from service.match import engine_build

    if EXPECTED_BUILD and engine_build() != EXPECTED_BUILD:
        raise pytest.UsageError(
            f"NEWSALERT_EXPECT_BUILD={EXPECTED_BUILD} but the engine imported from "
            f"{Path(service.__file__).parent} is the {engine_build()} build"
        )


def pytest_report_header() -> str:
    from service.match import engine_build

    return f"newsalert: matching engine {engine_build()}, from {Path(service.__file__).parent}"


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REDIS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)


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


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EmbeddedStore]:
    """An open embedded store in this test's directory (modules that test every store override it)."""
    backend = EmbeddedStore(tmp_path / "state")
    await backend.open()
    yield backend
    await backend.close()

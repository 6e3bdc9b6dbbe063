"""The composition root: one builder for every command, and reloads that swap whole or not at all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import structlog

from service.errors import ConfigError, StoreLockedError
from service.runtime import build_runtime
from service.settings import load_config
from service.sinks.telegram import TelegramSink

SERVICE = Path(__file__).resolve().parents[1] / "service"


def _config(tmp_path: Path, sinks: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[service]\nstore = "{tmp_path / "state"}"\nhttp_port = 0\n{sinks}', encoding="utf-8")
    return path


TELEGRAM = """
[sinks.ops]
type = "telegram"
bot_token = "123:abc"
chat_id = "-100"
api_url = "http://127.0.0.1:9"
"""


async def test_a_reload_swaps_the_sinks_closes_the_old_ones_and_keeps_the_bot_s_pacing(
    tmp_path: Path,
) -> None:
    path = _config(tmp_path, TELEGRAM)
    async with build_runtime(load_config(path), structlog.get_logger()) as runtime:
        before = runtime.sinks["ops"]
        assert isinstance(before, TelegramSink)
        closed: list[str] = []

        async def close() -> None:
            closed.append("ops")

        before.close = close  # type: ignore[method-assign]
        path.write_text(path.read_text() + '\n[sinks.log]\ntype = "file"\npath = "alerts.jsonl"\n')
        runtime.reload(load_config(path))
        after = runtime.sinks["ops"]
        assert set(runtime.sinks) == {"ops", "log"} and after is not before
        assert after._bot is before._bot  # one bot per token for the runtime's life
        await runtime.close_retired_sinks()
        assert closed == ["ops"]


async def test_a_reload_that_cannot_build_a_sink_changes_nothing(tmp_path: Path) -> None:
    path = _config(tmp_path, TELEGRAM)
    async with build_runtime(load_config(path), structlog.get_logger()) as runtime:
        sinks, config = dict(runtime.sinks), runtime.config
        path.write_text(path.read_text() + 'template = "<div>{{ item.title }}</div>"\n')
        with pytest.raises(ConfigError, match=r"sinks\.ops\.template: Telegram does not support the tag"):
            runtime.reload(load_config(path))
        assert runtime.sinks == sinks and runtime.config is config


async def test_without_the_store_a_runtime_runs_beside_a_process_that_holds_it(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, ""))
    async with build_runtime(config, structlog.get_logger()):
        with pytest.raises(StoreLockedError):
            async with build_runtime(config, structlog.get_logger()):
                pass
        async with build_runtime(config, structlog.get_logger(), open_store=False) as second:
            assert second.sinks == {}


def _constructed(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def test_only_the_composition_root_wires_the_pipeline_outbox_scheduler_and_stores() -> None:
    wired = {"Pipeline", "Outbox", "PollScheduler", "EmbeddedStore", "RedisStore", "Fetcher"}
    builders = {
        str(p.relative_to(SERVICE)): found
        for p in SERVICE.rglob("*.py")
        if (found := _constructed(p) & wired)
    }
    # Each store module builds its own kind; `match` fetches a single URL with its own fetcher.
    assert builders == {
        "runtime.py": {"Pipeline", "Outbox", "PollScheduler", "Fetcher"},
        "state/embedded.py": {"EmbeddedStore"},
        "state/redis_store.py": {"RedisStore"},
        "feeds/sniff.py": {"Fetcher"},
    }

"""The core stays pure: parsing, text, matching, rendering and models import no I/O library."""

from __future__ import annotations

import ast
import typing
from collections.abc import Callable
from pathlib import Path

import pytest

from service import pipeline, worker
from service.logs import Logger
from service.sinks import outbox
from service.state.protocol import Store

SERVICE = Path(__file__).resolve().parents[1] / "service"
IO_LIBRARIES = {"aiohttp", "redis", "aiosmtplib", "smtplib", "structlog", "sqlite3", "socket", "requests"}
CORE = [
    "models.py",
    "errors.py",
    "gazetteer.py",
    "sinks/render.py",
    "sinks/split.py",
    "sinks/pacing.py",
    "sinks/templates.py",
    "state/fingerprint.py",
    "telemetry.py",
    "state/codec.py",
    "feeds/parse.py",
    "feeds/items.py",
    "feeds/urls.py",
    "feeds/schedule.py",
    "retry_after.py",
    "text",
    "match",
    "lexicon",
]


def _modules(entry: str) -> list[Path]:
    path = SERVICE / entry
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [p for entry in CORE for p in _modules(entry)], ids=str)
def test_core_module_imports_no_io_library_nor_settings(path: Path) -> None:
    imported = _imports(path)
    roots = {name.split(".")[0] for name in imported}
    assert not roots & IO_LIBRARIES, f"{path.name} imports {roots & IO_LIBRARIES}"
    assert "service.settings" not in imported, f"{path.name} reads settings"


def test_the_architecture_check_catches_an_io_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import aiohttp\nfrom redis.asyncio import Redis\n")
    assert {"aiohttp", "redis.asyncio"} <= _imports(bad)


ORCHESTRATION: list[Callable[..., object]] = [
    pipeline.Pipeline.__init__,
    worker.PollScheduler.__init__,
    worker.settle,
    worker.run_once,
    outbox.Outbox.__init__,
]


@pytest.mark.parametrize("function", ORCHESTRATION, ids=lambda f: f.__qualname__)
def test_orchestration_takes_a_store_port_and_a_logger_port(function: Callable[..., object]) -> None:
    """The pipeline, the scheduler and the outbox each name the narrow port they use, never the whole
    store (so a fake with just those methods is a legitimate argument), and log through the port."""
    hints = typing.get_type_hints(function)
    assert hints["store"] is not Store
    assert hints["store"] in Store.__mro__
    assert hints["log"] in (Logger, Logger | None)

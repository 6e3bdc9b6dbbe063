"""The registries find every kind by scanning its package, and each record describes itself."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.registry import Shared, sink_types, source_types, store_type_for, store_types
from service.settings import load_config


def test_every_sink_store_and_source_module_is_found() -> None:
    assert set(sink_types()) == {"apprise", "console", "email", "file", "telegram", "webhook"}
    assert set(store_types()) == {"embedded", "redis"}
    assert set(source_types()) == {"rss"}


@pytest.mark.parametrize("kinds", [sink_types, source_types], ids=["sinks", "sources"])
def test_a_kind_s_options_accept_exactly_its_own_type(kinds: typing.Callable[[], typing.Any]) -> None:
    for name, record in kinds().items():
        annotation = record.options.model_fields["type"].annotation
        assert typing.get_args(annotation) == (name,), f"{record.options.__name__} takes type {annotation}"


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        (None, "embedded"),
        ("/var/lib/newsalert", "embedded"),
        ("redis://localhost:6379/0", "redis"),
        ("REDISS://h/1", "redis"),
        ("unix:///run/redis.sock", "redis"),
    ],
)
def test_a_store_is_chosen_by_the_scheme_of_its_url(target: str | None, kind: str) -> None:
    assert store_type_for(target).name == kind


def test_a_url_no_store_serves_is_refused_with_the_schemes_there_are(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[service]\nstore = "postgres://db/newsalert"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"service\.store: no store serves postgres:// URLs") as info:
        load_config(config)
    assert "redis://" in str(info.value)


def test_an_unknown_sink_type_names_every_registered_one(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[sinks.x]\ntype = 'pager'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown sink type 'pager'") as info:
        load_config(config)
    assert all(name in str(info.value) for name in sink_types())


def test_an_unknown_feed_type_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[[feeds]]\nname = 'x'\ntype = 'gopher'\nurl = 'http://a/'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"feeds\[0\]: unknown feed type 'gopher' \(use rss\)"):
        load_config(config)


def test_a_feed_option_error_names_the_key_without_the_kind(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[[feeds]]\nname = 'x'\nurl = 'gopher://a/'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r": feeds\[0\]\.url: must start with http") as info:
        load_config(config)
    assert "rss" not in str(info.value).split("feeds[0]")[1].split(":")[0]


def test_shared_objects_are_made_once_per_key() -> None:
    shared = Shared()
    first = shared.get("bot:a", list)
    assert shared.get("bot:a", dict) is first
    assert shared.get("bot:b", list) is not first

"""The config file: TOML → `${VAR}` interpolation → pydantic models → cross-checks.

Every problem is collected (not just the first) and raised together as one `ConfigError`, each with its
key path (`watchlists[2].query`) and, for queries, the column. Only the composition root (the CLI) calls
`load_config`; nothing below it sees these models.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, SecretStr, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.errors import ConfigError, Problem, QuerySyntaxError
from service.models import EntityDef, EntityKind, Feed, Vocabulary, WatchlistDef

DEFAULT_STATE_DIR = "./newsalert-state"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


def parse_duration(value: object) -> float:
    """Seconds from `90`, `"90s"`, `"5m"`, `"2h"`, `"1d"`, `"1w"` (or `"250ms"`)."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '90s', '5m', '2h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration (use seconds or a string such as '90s', '5m', '2h')")
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError("a duration must be zero or more")
    return seconds


def parse_backfill(value: object) -> float:
    """`"all"` → infinity; otherwise a duration."""
    if isinstance(value, str) and value.strip().lower() == "all":
        return math.inf
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(parse_duration)]
Backfill = Annotated[float, BeforeValidator(parse_backfill)]
Name = Annotated[str, Field(pattern=_NAME, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ServiceConfig(_Strict):
    store: str | None = None
    key_prefix: str = Field("newsalert:", min_length=1, max_length=100)
    poll_interval: Duration = 300.0
    min_interval: Duration = 60.0
    max_interval: Duration = 3600.0
    http_host: str = "0.0.0.0"
    http_port: int = Field(8080, ge=0, le=65535)
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    fetch_timeout: Duration = 30.0
    connect_timeout: Duration = 10.0
    max_feed_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    concurrency: int = Field(20, ge=1, le=1000)
    per_host_concurrency: int = Field(4, ge=1, le=100)
    grace_period: Duration = 10.0
    lease_ttl: Duration = 60.0
    seen_ttl: Duration = 30 * 86400.0
    delivery_timeout: Duration = 30.0


class FeedConfig(_Strict):
    name: Name
    url: str
    interval: Duration | None = None
    language: str | None = None
    backfill: Backfill = 0.0
    full_text: bool = False
    enabled: bool = True
    encoding: str | None = None

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not re.match(r"^(https?://|file:)", url, re.IGNORECASE):
            raise ValueError("must start with http://, https://, file:// (or file:relative/path)")
        return url


class EntityConfig(_Strict):
    name: str = Field(min_length=1)
    kind: EntityKind = EntityKind.OTHER
    aliases: list[str] = []


class WatchlistConfig(_Strict):
    name: Name
    query: str
    sinks: list[str] = []
    feeds: list[str] = ["*"]
    languages: list[str] = []
    min_score: float | None = Field(None, gt=0)

    @field_validator("languages")
    @classmethod
    def _detectable_languages(cls, codes: list[str]) -> list[str]:
        """Only codes the detector returns: any other would mute the watchlist for every item."""
        from service.text.language import unknown_language

        errors = [
            InitErrorDetails(
                type=PydanticCustomError("language", "{why}", {"why": why}), loc=(j,), input=code
            )
            for j, code in enumerate(codes)
            if (why := unknown_language(code)) is not None
        ]
        if errors:
            raise pydantic.ValidationError.from_exception_data("languages", errors)
        return codes


class TelegramSink(_Strict):
    type: Literal["telegram"]
    bot_token: SecretStr
    chat_id: str | int
    api_url: str = "https://api.telegram.org"
    message_thread_id: int | None = None
    disable_web_page_preview: bool = False
    link_preview_size: Literal["auto", "small", "large"] = "auto"
    link_preview_above_text: bool = False
    disable_notification: bool = False
    template: str | None = None


class WebhookSink(_Strict):
    type: Literal["webhook"]
    url: str
    format: Literal["json", "slack", "discord"] = "json"
    secret: SecretStr | None = None
    timeout: Duration = 10.0
    concurrency: int = Field(1, ge=1, le=64)
    template: str | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        if not re.match(r"^https?://", url, re.IGNORECASE):
            raise ValueError("must start with http:// or https://")
        return url


class EmailSink(_Strict):
    type: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout: Duration = 30.0
    digest: Duration | None = None
    subject_template: str | None = None
    text_template: str | None = None
    html_template: str | None = None
    ca_file: str | None = None

    @field_validator("digest")
    @classmethod
    def _positive_digest(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("a digest window must be longer than zero (or leave it out)")
        return value


class ConsoleSink(_Strict):
    type: Literal["console"]


class AppriseSink(_Strict):
    type: Literal["apprise"]
    urls: list[SecretStr] = Field(min_length=1)
    template: str | None = None


SinkConfig = Annotated[
    TelegramSink | WebhookSink | EmailSink | ConsoleSink | AppriseSink, Field(discriminator="type")
]


class Config(_Strict):
    _source: str = PrivateAttr(default="config")

    service: ServiceConfig = ServiceConfig()
    feeds: list[FeedConfig] = []
    concepts: dict[str, list[str]] = {}
    plurals: dict[str, list[str]] = {}
    entities: list[EntityConfig] = []
    watchlists: list[WatchlistConfig] = []
    sinks: dict[str, SinkConfig] = {}

    @property
    def source(self) -> str:
        """The file this config was read from (for messages about it)."""
        return self._source

    def vocabulary(self) -> Vocabulary:
        return Vocabulary(
            concepts={k: tuple(v) for k, v in self.concepts.items()},
            entities=tuple(EntityDef(e.name, e.kind, tuple(e.aliases)) for e in self.entities),
            plurals={k: tuple(v) for k, v in self.plurals.items()},
        )

    def watchlist_defs(self) -> tuple[WatchlistDef, ...]:
        return tuple(
            WatchlistDef(w.name, w.query, tuple(w.feeds), tuple(w.languages), w.min_score)
            for w in self.watchlists
        )

    def feed_defs(self) -> tuple[Feed, ...]:
        return tuple(
            Feed(
                name=f.name,
                url=f.url,
                interval=f.interval if f.interval is not None else self.service.poll_interval,
                language=f.language,
                backfill=f.backfill,
                full_text=f.full_text,
                encoding=f.encoding,
                enabled=f.enabled,
                adaptive=f.interval is None,
            )
            for f in self.feeds
        )

    def routes(self) -> dict[str, tuple[str, ...]]:
        """Which sinks each watchlist delivers to."""
        return {w.name: tuple(w.sinks) for w in self.watchlists}


class EnvOverrides(BaseSettings):
    """`NEWSALERT_*` variables: they win over the file's `[service]` table."""

    model_config = SettingsConfigDict(env_prefix="NEWSALERT_", extra="ignore")

    config: str | None = None
    store: str | None = None
    http_host: str | None = None
    http_port: int | None = None
    log_format: Literal["json", "console"] | None = None


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate, validate and cross-check a config file; raise ConfigError with every problem."""
    env = os.environ if environ is None else environ
    file = str(path)
    raw = _read_toml(file)
    problems: list[Problem] = []
    data = _interpolate(raw, env, "", problems)
    data = _apply_env_overrides(data, env, file, problems)
    data = _resolve_file_urls(data, Path(file).resolve().parent)
    config = _validate(data, problems)
    # Cross-checks read the raw data, so they run even when a model error elsewhere stopped
    # validation: the operator sees every problem in one pass.
    problems.extend(_cross_check(data))
    if problems:
        raise ConfigError(file, problems)
    assert config is not None
    config._source = file
    return config


def _read_toml(file: str) -> dict[str, Any]:
    try:
        with open(file, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(file, [Problem("", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError(file, [Problem("", "is a directory, not a config file")]) from None
    except PermissionError:
        raise ConfigError(file, [Problem("", "permission denied")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, [Problem("", f"invalid TOML: {exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError(file, [Problem("", "invalid TOML: the file is not UTF-8")]) from None


def _interpolate(node: Any, env: Mapping[str, str], path: str, problems: list[Problem]) -> Any:
    """Replace `${VAR}` in every string value; `$$` is a literal `$`. An unset variable is a problem."""
    if isinstance(node, str):
        return _VAR.sub(lambda m: _lookup(m, env, path, problems), node)
    if isinstance(node, dict):
        return {k: _interpolate(v, env, _join(path, k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env, f"{path}[{i}]", problems) for i, v in enumerate(node)]
    return node


def _lookup(m: re.Match[str], env: Mapping[str, str], path: str, problems: list[Problem]) -> str:
    name = m.group(1)
    if name is None:
        return "$"
    if name not in env:
        problems.append(Problem(path, f"environment variable {name} is not set"))
        return ""
    return env[name]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def read_env_overrides(env: Mapping[str, str] | None = None) -> EnvOverrides:
    """The NEWSALERT_* variables: from the process environment, or from `env` when one is given."""
    if env is None:
        return EnvOverrides()
    return EnvOverrides.model_validate(_env_subset(env))


def _apply_env_overrides(
    data: dict[str, Any], env: Mapping[str, str], file: str, problems: list[Problem]
) -> dict[str, Any]:
    try:
        overrides = read_env_overrides(env)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            var = "NEWSALERT_" + str(err["loc"][0]).upper()
            problems.append(Problem(f"(environment {var})", _message(err)))
        return data
    service = dict(data.get("service") or {})
    for key in ("store", "http_host", "http_port", "log_format"):
        value = getattr(overrides, key)
        if value is not None:
            service[key] = value
    if service:
        data = {**data, "service": service}
    return data


def _resolve_file_urls(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """`file:relative/path` feeds are read relative to the config file, wherever it is run from."""
    feeds = data.get("feeds")
    if not isinstance(feeds, list):
        return data
    resolved = []
    for feed in feeds:
        url = feed.get("url") if isinstance(feed, dict) else None
        if isinstance(url, str) and url.lower().startswith("file:") and not url.lower().startswith("file://"):
            feed = {**feed, "url": (base / url[5:]).resolve().as_uri()}
        resolved.append(feed)
    return {**data, "feeds": resolved}


def _env_subset(env: Mapping[str, str]) -> dict[str, str]:
    """Only the NEWSALERT_* variables we know, passed explicitly so tests can hand in their own mapping."""
    keys = ("config", "store", "http_host", "http_port", "log_format")
    return {k: env[f"NEWSALERT_{k.upper()}"] for k in keys if f"NEWSALERT_{k.upper()}" in env}


def _validate(data: dict[str, Any], problems: list[Problem]) -> Config | None:
    try:
        return Config.model_validate(data)
    except pydantic.ValidationError as exc:
        problems.extend(Problem(_loc_path(err["loc"]), _message(err)) for err in exc.errors())
        return None


_SINK_TAGS = {"telegram", "webhook", "email", "console", "apprise"}


def _loc_path(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    # A discriminated union puts the tag into the location (sinks.x.telegram.bot_token): drop it.
    if len(parts) >= 3 and parts[0] == "sinks" and parts[2] in _SINK_TAGS:
        del parts[2]
    out = ""
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, str(part))
    return out


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    if kind == "union_tag_invalid":
        return f"unknown sink type {err['input'].get('type')!r} (use telegram, webhook, email, console or apprise)"
    if kind == "union_tag_not_found":
        return "missing required key 'type' (telegram, webhook, email, console or apprise)"
    message = str(err["msg"])
    return message.removeprefix("Value error, ")


def _cross_check(data: dict[str, Any]) -> Iterator[Problem]:
    feeds, watchlists = _records(data, "feeds"), _records(data, "watchlists")
    entities = _records(data, "entities")
    sinks: dict[str, Any] = data["sinks"] if isinstance(data.get("sinks"), dict) else {}
    concepts: dict[str, Any] = data["concepts"] if isinstance(data.get("concepts"), dict) else {}
    yield from _unique("feeds", [f.get("name") for f in feeds])
    yield from _unique("watchlists", [w.get("name") for w in watchlists])
    yield from _unique("entities", [e.get("name") for e in entities])
    for i, watchlist in enumerate(watchlists):
        listed = watchlist.get("sinks")
        for j, sink in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(sink, str) and sink not in sinks:
                yield Problem(f"watchlists[{i}].sinks[{j}]", f"no sink named {sink!r} under [sinks]")
        if isinstance(watchlist.get("query"), str):
            entity_names = {str(e.get("name")) for e in entities}
            yield from _check_query(set(concepts), entity_names, i, watchlist["query"])
    for name in sinks:
        if not re.match(_NAME, name):
            yield Problem(f"sinks.{name}", "a sink name uses letters, digits, '-', '_' and '.'")


def _records(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [r if isinstance(r, dict) else {} for r in value]


def _unique(key: str, names: list[Any]) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str):
            continue
        if name in first:
            yield Problem(f"{key}[{i}].name", f"duplicate name {name!r} (also {key}[{first[name]}])")
        else:
            first[name] = i


def _check_query(concepts: set[str], entities: set[str], index: int, query: str) -> Iterator[Problem]:
    from service.match import parse_query, query_references

    path = f"watchlists[{index}].query"
    try:
        parsed = parse_query(query)
    except QuerySyntaxError as exc:
        yield Problem(path, exc.reason, exc.column)
        return
    for name, column in query_references(parsed):
        if name in concepts and name in entities:
            yield Problem(path, f"@{name} is both a concept and an entity; rename one", column)
        elif name not in concepts and name not in entities:
            yield Problem(path, f"@{name} is neither a concept nor an entity", column)

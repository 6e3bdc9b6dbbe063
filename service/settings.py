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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

import pydantic
from pydantic import BeforeValidator, Discriminator, Field, PrivateAttr, Tag, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from service import lexicon
from service.errors import ConfigError, Problem, QuerySyntaxError
from service.gazetteer import place_aliases
from service.models import Breaking, EntityDef, EntityKind, Feed, Vocabulary, WatchlistDef
from service.options import NAME_PATTERN, NAME_RULE, Duration, Name, Options, SinkOptions
from service.registry import StoreSettings, sink_types, source_types, store_type_for
from service.sources.base import FeedOptions

# The default poll concurrency ("auto"): every poll the feeds need per second may hold a slot this
# long. Each slot holds one response body at most, so the ceiling also bounds memory.
SLOT_SECONDS = 5.0
MIN_SLOTS = 20
MAX_SLOTS = 500
PER_FEED_METRICS_UP_TO = 1000

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ServiceConfig(Options):
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
    # "auto": sized from what the configured feeds need (Config.poll_concurrency).
    concurrency: Annotated[int, Field(ge=1, le=1000)] | Literal["auto"] = Field(
        "auto", union_mode="left_to_right"
    )
    per_host_concurrency: int = Field(4, ge=1, le=100)
    # "auto": per-feed metric labels up to PER_FEED_METRICS_UP_TO enabled feeds, feed="*" beyond.
    per_feed_metrics: bool | Literal["auto"] = "auto"
    grace_period: Duration = 10.0
    lease_ttl: Duration = 60.0
    seen_ttl: Duration = 30 * 86400.0
    delivery_timeout: Duration = 30.0

    @field_validator("concurrency", mode="before")
    @classmethod
    def _slots(cls, value: object) -> object:
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1000):
            return value
        raise ValueError('must be "auto" or a whole number from 1 to 1000')

    @field_validator("per_feed_metrics", mode="before")
    @classmethod
    def _per_feed(cls, value: object) -> object:
        if value == "auto" or isinstance(value, bool):
            return value
        raise ValueError('must be true, false or "auto"')

    @field_validator("store")
    @classmethod
    def _served(cls, store: str | None) -> str | None:
        store_type_for(store)  # raises, naming the kinds of store there are
        return store

    def store_settings(self) -> StoreSettings:
        return StoreSettings(seen_ttl=self.seen_ttl, key_prefix=self.key_prefix)


class EntityConfig(Options):
    name: str = Field(min_length=1)
    kind: EntityKind = EntityKind.OTHER
    aliases: list[str] = []
    gazetteer: bool = True

    def gazetteer_names(self) -> tuple[str, ...]:
        """The names a place gains from the gazetteer (none for other kinds, or with gazetteer off)."""
        if self.kind is not EntityKind.PLACE or not self.gazetteer:
            return ()
        given = set(self.aliases)
        return tuple(n for n in place_aliases(self.name) if n not in given)


class BreakingConfig(Options):
    """`breaking = { outlets = 4, within = "30m" }`: one extra alert when an event reaches that many
    distinct outlets (any language) whose copies were published within that span."""

    outlets: int = Field(strict=True, ge=2)
    within: Duration = Field(1800.0, gt=0)


class WatchlistConfig(Options):
    name: Name
    query: str
    sinks: list[str] = []
    feeds: list[str] = ["*"]
    languages: list[str] = []
    min_score: float | None = Field(None, gt=0)
    breaking: BreakingConfig | None = None

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


class ConceptConfig(Options):
    """A `[concepts]` value: its terms, and whether they reach the lexicon's other languages."""

    terms: list[str]
    expand: bool = Field(True, strict=True)  # TOML has booleans: "no" is a mistake, not False


def _concept_table(value: Any) -> Any:
    """The list form `name = [...]` is the table form with its defaults."""
    if isinstance(value, list):
        return {"terms": value}
    if isinstance(value, dict | ConceptConfig):
        return value
    raise ValueError("a concept is a list of terms, or a table: { terms = [...], expand = false }")


Concept = Annotated[ConceptConfig, BeforeValidator(_concept_table)]


def _tagged(records: Mapping[str, Any]) -> Any:
    """One model per registered kind, told apart by the entry's `type`."""
    return Union[tuple(Annotated[r.options, Tag(name)] for name, r in records.items())]  # noqa: UP007


def _type_of(default: str | None) -> Callable[[Any], str | None]:
    def tag(value: Any) -> str | None:
        kind = value.get("type", default) if isinstance(value, dict) else getattr(value, "type", default)
        return kind if isinstance(kind, str) else None

    return tag


if TYPE_CHECKING:
    FeedEntry = FeedOptions
    SinkEntry = SinkOptions
else:
    FeedEntry = Annotated[_tagged(source_types()), Discriminator(_type_of("rss"))]
    SinkEntry = Annotated[_tagged(sink_types()), Discriminator(_type_of(None))]


class Config(Options):
    _source: str = PrivateAttr(default="config")

    service: ServiceConfig = ServiceConfig()
    feeds: list[FeedEntry] = []
    concepts: dict[str, Concept] = {}
    plurals: dict[str, list[str]] = {}
    entities: list[EntityConfig] = []
    watchlists: list[WatchlistConfig] = []
    sinks: dict[str, SinkEntry] = {}

    @property
    def source(self) -> str:
        """The file this config was read from (for messages about it)."""
        return self._source

    def vocabulary(self) -> Vocabulary:
        """The concepts (expanded through the lexicon), a `std.NAME` concept per lexicon entry,
        the entities and the extra plurals."""
        concepts = {name: self.concept_terms(name) for name in self.concepts}
        concepts.update({e.reference: e.all_terms() for e in lexicon.entries().values()})
        return Vocabulary(
            concepts=concepts,
            entities=tuple(
                EntityDef(e.name, e.kind, (*e.aliases, *e.gazetteer_names())) for e in self.entities
            ),
            plurals={k: tuple(v) for k, v in self.plurals.items()},
        )

    def concept_terms(self, name: str) -> tuple[str, ...]:
        """A concept's own terms, then those of the lexicon entries it reaches unless it is literal."""
        concept = self.concepts[name]
        return lexicon.expand(concept.terms)[0] if concept.expand else tuple(concept.terms)

    def expansions(self, name: str) -> tuple[lexicon.Entry, ...]:
        """The lexicon entries a concept reaches (none when it sets `expand = false`)."""
        concept = self.concepts[name]
        return lexicon.entries_reached(concept.terms) if concept.expand else ()

    def watchlist_defs(self) -> tuple[WatchlistDef, ...]:
        return tuple(
            WatchlistDef(w.name, w.query, tuple(w.feeds), tuple(w.languages), w.min_score)
            for w in self.watchlists
        )

    def feed_defs(self) -> tuple[Feed, ...]:
        return tuple(self._feed_def(f) for f in self.feeds)

    def _feed_def(self, f: FeedOptions) -> Feed:
        kind = source_types()[f.type]
        return Feed(
            name=f.name,
            url=kind.locate(f),
            reader=kind.reader(f),
            interval=f.interval if f.interval is not None else self.service.poll_interval,
            language=f.language,
            backfill=f.backfill,
            full_text=f.full_text,
            enabled=f.enabled,
            adaptive=f.interval is None,
        )

    def poll_concurrency(self) -> int:
        """How many polls may run at once: `service.concurrency`, or with "auto" enough slots for
        the polls the enabled feeds need per second to each hold one for SLOT_SECONDS (a slow
        feed's fetch, with room to catch up), within [MIN_SLOTS, MAX_SLOTS]."""
        configured = self.service.concurrency
        if configured != "auto":
            return configured
        needed = sum(1.0 / max(f.interval, 1.0) for f in self.feed_defs() if f.enabled)
        return min(MAX_SLOTS, max(MIN_SLOTS, math.ceil(needed * SLOT_SECONDS)))

    def per_feed_metrics(self) -> bool:
        """Whether poll metrics carry each feed's name (see `service.per_feed_metrics`)."""
        if self.service.per_feed_metrics != "auto":
            return self.service.per_feed_metrics
        return sum(1 for f in self.feeds if f.enabled) <= PER_FEED_METRICS_UP_TO

    def routes(self) -> dict[str, tuple[str, ...]]:
        """Which sinks each watchlist delivers to."""
        return {w.name: tuple(w.sinks) for w in self.watchlists}

    def breaking_rules(self) -> dict[str, Breaking]:
        """The `breaking` option of each watchlist that sets one."""
        return {
            w.name: Breaking(w.breaking.outlets, w.breaking.within)
            for w in self.watchlists
            if w.breaking is not None
        }


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


def _kinds(loc: Sequence[int | str]) -> Mapping[str, Any]:
    """The registry a location's table belongs to: sinks.NAME or feeds[i]."""
    if loc and loc[0] == "sinks":
        return sink_types()
    if loc and loc[0] == "feeds":
        return source_types()
    return {}


def _loc_path(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    # A tagged union puts the kind into the location (sinks.x.telegram.bot_token): drop it.
    if len(parts) >= 3 and parts[2] in _kinds(parts):
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
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _unknown_kind(err)
    message = str(err["msg"])
    return message.removeprefix("Value error, ")


def _unknown_kind(err: Any) -> str:
    table = "sink" if err["loc"][0] == "sinks" else "feed"
    names = list(_kinds(err["loc"]))
    known = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    given = err["input"].get("type") if isinstance(err["input"], dict) else None
    if given is None:
        return f"missing required key 'type' ({known})"
    return f"unknown {table} type {given!r} (use {known})"


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
        if not re.match(NAME_PATTERN, name):
            yield Problem(f"sinks.{name}", f"a sink name uses {NAME_RULE}")
    for name in concepts:
        if name.casefold().startswith(lexicon.PREFIX):
            yield Problem(
                f"concepts.{name}", f"names starting with {lexicon.PREFIX!r} are the built-in lexicon's"
            )


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
        if name.casefold().startswith(lexicon.PREFIX):
            yield from _check_entry(path, name, column)
        elif name in concepts and name in entities:
            yield Problem(path, f"@{name} is both a concept and an entity; rename one", column)
        elif name not in concepts and name not in entities:
            yield Problem(path, f"@{name} is neither a concept nor an entity", column)


def _check_entry(path: str, name: str, column: int) -> Iterator[Problem]:
    if lexicon.find(name) is None:
        why = f"@{name} is not an entry of the built-in lexicon (`newsalert lexicon` lists them)"
        yield Problem(path, why, column)

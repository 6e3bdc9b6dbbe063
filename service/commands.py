"""What each command does, once the CLI has parsed its arguments and loaded the config."""

from __future__ import annotations

import asyncio
import json
import math
import sys
from datetime import datetime
from pathlib import Path

from service import USER_AGENT, lexicon
from service.clock import utcnow
from service.errors import DeliveryError, UserError
from service.logs import Logger
from service.match import Explanation, Matcher, compile_matcher, explain_item
from service.models import Alert, Feed, Hit, Item, Match
from service.options import format_duration
from service.pipeline import alert_id, learned_language
from service.registry import Shared, SinkContext, source_types
from service.runtime import (
    build_runtime,
    build_sinks,
    describe_sink,
    describe_store,
    fetch_limits,
    http_session,
)
from service.settings import Config
from service.sources.base import FeedOptions
from service.state.protocol import DeliveryStatus
from service.worker import BEHIND_AFTER
from service.worker import run_once as run_pass

SETTLE_SECONDS = 30.0
EXIT_OWED = 3  # `run --once` completed, but some delivery is still pending or parked


# -- check ----------------------------------------------------------------------------------------


def print_check(path: str, config: Config, log: Logger) -> int:
    compile_matcher(config.watchlist_defs(), config.vocabulary())
    asyncio.run(_build_sinks_once(config, log))
    out = [f"{path}: valid", f"store: {describe_store(config)}"]
    http = (
        "off" if config.service.http_port == 0 else f"{config.service.http_host}:{config.service.http_port}"
    )
    out.append(f"http: {http}    log format: {config.service.log_format}")
    sized = " (auto, from the feeds' intervals)" if config.service.concurrency == "auto" else ""
    per_feed = "per feed" if config.per_feed_metrics() else 'all feeds as feed="*"'
    out.append(f"polls at once: {config.poll_concurrency()}{sized}    poll metrics: {per_feed}")
    out.append(f"feeds ({len(config.feeds)}):")
    out.extend(
        _describe_feed(options, feed) for options, feed in zip(config.feeds, config.feed_defs(), strict=True)
    )
    out.append(f"watchlists ({len(config.watchlists)}):")
    for w in config.watchlists:
        sinks = ", ".join(w.sinks) or "(no sinks: match only)"
        scope = "" if w.feeds == ["*"] else f"  feeds {', '.join(w.feeds)}"
        langs = f"  languages {', '.join(w.languages)}" if w.languages else ""
        rule = w.breaking
        breaking = (
            f"  breaking at {rule.outlets} outlets within {format_duration(rule.within)}" if rule else ""
        )
        out.append(f"  {w.name} → {sinks}{scope}{langs}{breaking}")
        out.append(f"      {w.query}")
    out.append(f"concepts ({len(config.concepts)}), with the lexicon entries each reaches:")
    out.extend(f"  {name}{_reach(config, name)}" for name in config.concepts)
    out.append(f"sinks ({len(config.sinks)}):")
    out.extend(f"  {name}  {describe_sink(options)}" for name, options in config.sinks.items())
    out.append(f"concepts: {len(config.concepts)}    entities: {len(config.entities)}")
    gained = ((e.name, e.gazetteer_names()) for e in config.entities)
    out.extend(_gazetteer_line(name, names) for name, names in gained if names)
    print("\n".join(out))
    return 0


def _reach(config: Config, name: str) -> str:
    """Which lexicon entries a concept expanded through, or why it did not."""
    if not config.concepts[name].expand:
        return "  (expand = false: its own terms only)"
    reached = config.expansions(name)
    if not reached:
        return "  (no term in the lexicon: its own terms only)"
    added = len(config.concept_terms(name)) - len(config.concepts[name].terms)
    return f" → {', '.join(e.reference for e in reached)}  (+{added} terms)"


def _describe_feed(options: FeedOptions, feed: Feed) -> str:
    flags = [] if feed.enabled else ["disabled"]
    if feed.full_text:
        flags.append("full text")
    kind = "" if options.type == "rss" else f"{options.type} "
    backfill = "all" if math.isinf(feed.backfill) else format_duration(feed.backfill)
    extra = f"  [{', '.join(flags)}]" if flags else ""
    return (
        f"  {feed.name}  {kind}{source_types()[options.type].describe(options)}"
        f"  every {format_duration(feed.interval)}, backfill {backfill}"
        f"{', language ' + feed.language if feed.language else ''}{extra}"
    )


def _gazetteer_line(name: str, names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:12]) + (f", … ({len(names) - 12} more)" if len(names) > 12 else "")
    return f"  {name}: {len(names)} names from the gazetteer: \u2068{shown}\u2069"


async def _build_sinks_once(config: Config, log: Logger) -> None:
    """Build every sink (templates compiled, CA files read) and drop them: no message is sent."""
    async with http_session() as session:
        sinks = build_sinks(config, SinkContext(session=session, log=log, shared=Shared()))
        for sink in sinks.values():
            await sink.close()


# -- run ------------------------------------------------------------------------------------------


async def run_once(config: Config, log: Logger) -> int:
    """One pass; exit 0 only when everything owed was delivered, else EXIT_OWED with the counts."""
    async with build_runtime(config, log) as runtime:
        await run_pass(
            runtime.pipeline,
            runtime.outbox,
            runtime.store,
            config.feed_defs(),
            concurrency=config.poll_concurrency(),
            clock=runtime.clock,
            settle_seconds=SETTLE_SECONDS,
            log=log,
        )
        pending = len(await runtime.store.deliveries(DeliveryStatus.PENDING))
        parked = len(await runtime.store.deliveries(DeliveryStatus.PARKED))
    if pending or parked:
        print(
            f"newsalert: the run completed, but {pending} deliveries are pending and {parked} parked "
            "(newsalert outbox lists them)",
            file=sys.stderr,
        )
        return EXIT_OWED
    return 0


async def run_forever(config_path: str, config: Config, log: Logger) -> int:
    """Poll each feed when it is due, deliver as alerts arrive, reload on edits, stop cleanly on signals."""
    from service.app import Service

    return await Service(config_path, config, log).run()


# -- match ----------------------------------------------------------------------------------------


def run_match(
    config: Config, source: str, *, watchlists: list[str], as_json: bool, explain: bool = False
) -> int:
    """Runs SOURCE through the watchlists; with `explain`, or when watchlists are named, also says
    why each silent one stayed silent."""
    from service.feeds.sniff import load_source

    known = {w.name for w in config.watchlists}
    unknown = [w for w in watchlists if w not in known]
    if unknown:
        raise UserError(f"no watchlist named {', '.join(repr(w) for w in unknown)} in the config")
    chosen = [w for w in config.watchlist_defs() if not watchlists or w.name in watchlists]
    matcher = compile_matcher(chosen, config.vocabulary())
    items = load_source(source, fetch_limits=fetch_limits(config), user_agent=USER_AGENT)
    color = sys.stdout.isatty()
    explain = explain or bool(watchlists)
    for item in items:
        matches = matcher.match(item)
        silent = _silent(matcher, item, matches) if explain else None
        print(
            _match_json(item, matches, silent) if as_json else _match_text(item, matches, silent, color=color)
        )
    return 0


def _silent(matcher: Matcher, item: Item, matches: tuple[Match, ...]) -> list[Explanation]:
    fired = {m.watchlist for m in matches}
    return [e for e in explain_item(matcher, item) if e.watchlist not in fired]


def _match_json(item: Item, matches: tuple[Match, ...], silent: list[Explanation] | None) -> str:
    record: dict[str, object] = {
        "id": item.id,
        "title": item.title,
        "url": item.url,
        "language": item.language,
        "matches": [
            {
                "watchlist": m.watchlist,
                "hits": [{"term": h.term, "text": h.text, "field": h.field} for h in m.hits],
                "entities": list(m.entities),
                **({"score": m.score} if m.score is not None else {}),
            }
            for m in matches
        ],
    }
    if silent is not None:
        record["silent"] = [_explanation_json(e) for e in silent]
    return json.dumps(record, ensure_ascii=False)


def _explanation_json(explanation: Explanation) -> dict[str, object]:
    held = [c.text for c in explanation.clauses if c.held]
    failed = next((c.text for c in explanation.clauses if not c.held), None)
    return {"watchlist": explanation.watchlist, "held": held, "failed": failed}


def _match_text(
    item: Item, matches: tuple[Match, ...], silent: list[Explanation] | None, *, color: bool
) -> str:
    lines = [f"■ {item.title or '(no title)'}  [{item.language or '?'}]  {item.url}".rstrip()]
    if not matches:
        lines.append("  no watchlist matched")
    for m in matches:
        score = f"  score {m.score:g}" if m.score is not None else ""
        lines.append(f"  ✔ {m.watchlist}{score}")
        if m.entities:
            lines.append(f"    entities: {', '.join(m.entities)}")
        lines.extend(f"    {h.term} → {_in_context(item, h, color)}" for h in m.hits)
    for explanation in silent or ():
        lines.append(f"  ✘ {explanation.watchlist}")
        lines.extend(f"    {'held' if c.held else 'failed'}: {c.text}" for c in explanation.clauses)
    return "\n".join(lines)


def _in_context(item: Item, hit: Hit, color: bool) -> str:
    """The hit inside a few words of its sentence; each run isolated so Arabic stays readable."""
    text = item.field_text(hit.field)
    before = " ".join(text[max(0, hit.start - 40) : hit.start].split()[-5:])
    after = " ".join(text[hit.end : hit.end + 40].split()[:5])
    mark = f"\x1b[1;33m{hit.text}\x1b[0m" if color else f"«{hit.text}»"
    return f"({hit.field}) \u2068{before} {mark} {after}\u2069"


# -- lexicon --------------------------------------------------------------------------------------


def print_lexicon(name: str | None) -> int:
    """Every entry of the built-in lexicon, or the one `name` names (with or without `std.`)."""
    if name is None:
        print("\n\n".join(_describe_entry(e) for e in lexicon.entries().values()))
        return 0
    entry = lexicon.find(name)
    if entry is None:
        raise UserError(f"no lexicon entry named {name!r} (`newsalert lexicon` lists them all)")
    print(_describe_entry(entry))
    return 0


def _describe_entry(entry: lexicon.Entry) -> str:
    lines = [f"{entry.reference}  {entry.description}"]
    lines.extend(
        f"  {code:<4}{lexicon.LANGUAGE_NAMES[code]:<10}{', '.join(entry.terms[code])}"
        for code in lexicon.LANGUAGES
    )
    return "\n".join(lines)


# -- send-test, feeds status, outbox, import -----------------------------------------------------


async def send_test(config: Config, sink_name: str, log: Logger) -> int:
    if sink_name not in config.sinks:
        raise UserError(f"no sink named {sink_name!r} under [sinks]")
    alert = _test_alert(utcnow())
    async with build_runtime(config, log, open_store=False) as runtime:
        try:
            await asyncio.wait_for(runtime.sinks[sink_name].send(alert), config.service.delivery_timeout)
        except (DeliveryError, TimeoutError) as exc:
            log.error("test_alert_failed", sink=sink_name, error=str(exc) or type(exc).__name__)
            return 1
    log.info("test_alert_delivered", sink=sink_name)
    return 0


def _test_alert(now: datetime) -> Alert:
    item = Item(
        id=f"test-{now.timestamp():.0f}",
        feed="newsalert",
        title="[TEST] newsalert test alert",
        url="https://github.com/newsalert/newsalert",
        published=now,
        language="en",
        summary="A test alert sent by `newsalert send-test`. Nothing happened; this sink works.",
    )
    match = Match("send-test", (Hit("test", "test", "title", 1, 5),))
    return Alert(alert_id("send-test", f"{item.id}"), "send-test", item, match)


async def feeds_status(config: Config, log: Logger) -> int:
    async with build_runtime(config, log) as runtime:
        states = {s.name: s for s in await runtime.store.all_feed_states()}
        now = runtime.clock()
        glance = await runtime.store.glance(now, 1, count_all=True)
    for feed in config.feed_defs():
        s = states.get(feed.name)
        if s is None:
            print(f"{feed.name}: never polled")
            continue
        status = (
            f"disabled ({s.disabled_reason})" if s.disabled_reason else "ok" if not s.failures else "failing"
        )
        print(
            f"{feed.name}: {status}; failures in a row {s.failures}; last success {_when(s.last_success)}; "
            f"next poll {_when(s.next_poll)}"
            + (f"; started {s.late:.1f} s after due" if s.late is not None else "")
            + (f"; language learned: {learned}" if (learned := learned_language(s)) else "")
            + (f"; last error: {s.last_error}" if s.last_error else "")
            + (f"; moved to {s.url}" if s.url else "")
        )
    oldest = (now - glance.due[0][1]).total_seconds() if glance.due else 0.0
    print(
        f"schedule: {glance.due_count} of {glance.scheduled} feeds due now"
        + (f", the oldest {oldest:.0f} s late" if glance.due else "")
        + ("; polls are behind (see newsalert_poll_lag_seconds)" if oldest >= BEHIND_AFTER else "")
    )
    return 0


async def show_outbox(config: Config, log: Logger, *, include_delivered: bool) -> int:
    wanted = [DeliveryStatus.PENDING, DeliveryStatus.PARKED]
    if include_delivered:
        wanted.append(DeliveryStatus.DELIVERED)
    async with build_runtime(config, log) as runtime:
        # By status, so that thousands of delivered alerts never crowd out the ones still owed.
        rows = [d for status in wanted for d in await runtime.store.deliveries(status)]
    if not rows:
        print("nothing pending or parked" if not include_delivered else "no deliveries")
    for d in rows:
        note = f"  ({d.last_error})" if d.last_error else ""
        sink = f"{d.sink} (edit)" if d.edit else d.sink
        print(f"{d.status.value:9} {d.alert.id}  {sink}  attempts {d.attempts}  {d.alert.item.title}{note}")
    return 0


def import_opml(path: str) -> int:
    from service.feeds.opml import opml_to_toml

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: {exc.strerror}") from exc
    print(opml_to_toml(data), end="")
    return 0


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")

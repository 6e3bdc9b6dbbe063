"""Per-sink message templates: Jinja2 in its sandbox, compiled once when the sink is built.

A template sees only plain values about one alert (the context below), never the service. Feed text is
written by strangers, so templates for HTML targets (Telegram HTML, the email HTML part) autoescape
every value; the template's own markup is trusted, values are not. Plain-text targets render as is.

Context
  alert             the Alert (alert.id, alert.watchlist, alert.item, alert.match, ...)
  item              the Item: title, url, feed, summary, content, published, language, author
  watchlist         the watchlist name
  hits              the Hits: term, text (as written in the item), field
  entities          the names of the entities that matched
  also_reported_by  the names of the other feeds that carried the same event
  outlets           those feeds as Outlets: feed, language, url, label ("irna (fa)")
  breaking          True for the extra alert a watchlist's `breaking` option sends
  matched_terms     distinct surface forms that matched, as `text (term)` when they differ
  published         the publication time as "2021-06-10 08:00 UTC", or ""
Filters
  clip(n)           at most n characters, cut on a word, with an ellipsis
  isolate           wrap in Unicode first-strong isolates (keeps Arabic from reordering Latin around it)

A template that does not compile, or fails on a sample alert, raises OptionError naming the option when
the sink is built (the composition root reports it as a config problem with its key path); one that fails on a real alert at send time raises
PermanentDeliveryError, so that alert is parked with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from service.errors import OptionError, PermanentDeliveryError
from service.models import Alert, Hit, Item, Match, Outlet
from service.sinks.render import clip, isolate, matched_terms

# Keeps a runaway template from producing megabytes; every channel's limit is far below this.
MAX_OUTPUT_CHARS = 200_000


def template_context(alert: Alert) -> dict[str, Any]:
    item = alert.item
    return {
        "alert": alert,
        "item": item,
        "watchlist": alert.watchlist,
        "hits": list(alert.match.hits),
        "entities": list(alert.match.entities),
        "also_reported_by": [o.feed for o in alert.also_reported_by],
        "outlets": list(alert.also_reported_by),
        "breaking": alert.breaking,
        "matched_terms": matched_terms(alert),
        "published": item.published.strftime("%Y-%m-%d %H:%M UTC") if item.published else "",
    }


class MessageTemplate:
    """One compiled template. `html` turns autoescaping on; `check` vets a sample rendering.
    `name` is the template's config key, used in every error about it."""

    def __init__(
        self,
        source: str,
        *,
        html: bool,
        name: str = "template",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        self.name = name
        env = SandboxedEnvironment(
            autoescape=html,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["clip"] = lambda text, n=200: clip(str(text), int(n))
        env.filters["isolate"] = lambda text: isolate(str(text))
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise OptionError(name, f"line {exc.lineno}: {exc.message}") from None
        try:
            sample = self.render(sample_alert())
        except PermanentDeliveryError as exc:
            raise OptionError(name, f"fails on a sample alert: {exc}") from None
        problem = check(sample) if check else None
        if problem:
            raise OptionError(name, problem)

    def render(self, alert: Alert) -> str:
        try:
            text = self._template.render(template_context(alert))
        except Exception as exc:  # a template is user code: any failure is that template's
            raise PermanentDeliveryError(f"{self.name} failed: {type(exc).__name__}: {exc}") from exc
        if len(text) > MAX_OUTPUT_CHARS:
            raise PermanentDeliveryError(f"{self.name} produced {len(text)} characters")
        return text


def compile_template(
    source: str | None, *, html: bool, name: str, check: Callable[[str], str | None] | None = None
) -> MessageTemplate | None:
    """None when no template was configured (the sink then uses its built-in rendering)."""
    if source is None or not source.strip():
        return None
    return MessageTemplate(source, html=html, name=name, check=check)


def sample_alert() -> Alert:
    """A realistic alert with every field set, for vetting a template when the sink is built."""
    item = Item(
        id="sample",
        feed="sample-feed",
        title="قاآني يصل بغداد <sample> & co",
        url="https://news.example/a?b=1&c=2",
        summary="ملخص الخبر",
        content="سقوط صواريخ قرب مطار بغداد الدولي",
        published=datetime(2021, 6, 10, 8, tzinfo=UTC),
        language="ar",
        author="desk",
    )
    hit = Hit("@rocket", "صواريخ", "content", 5, 11)
    match = Match("sample-watchlist", (hit,), ("Baghdad International Airport",))
    other = Outlet("other-feed", "fa", "https://other.example/b", 0.0)
    return Alert("sample0000000000", "sample-watchlist", item, match, (other,))

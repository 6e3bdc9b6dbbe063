"""How an alert reads in each channel. Pure functions: an Alert in, text or a JSON body out.

Everything that comes from a feed is escaped for the channel it goes to: feed text is written by strangers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from service.models import Alert

TELEGRAM_LIMIT = 4096
DISCORD_CONTENT_LIMIT = 2000
SUMMARY_CHARS = 600
SUBJECT_CHARS = 200
TELEGRAM_OUTLETS = 10  # outlets named at most in a Telegram message, so an edit still fits
# Unicode first-strong isolates keep an Arabic title from reordering the Latin labels around it.
FSI, PDI = "\u2068", "\u2069"


def matched_terms(alert: Alert, limit: int = 12) -> list[str]:
    """Distinct surface forms that matched, in order of appearance, as `text (term)` when they differ."""
    seen: dict[str, None] = {}
    for hit in alert.match.hits:
        label = (
            hit.text if hit.text.casefold() == hit.term.strip('"@').casefold() else f"{hit.text} ({hit.term})"
        )
        seen.setdefault(label, None)
    return list(seen)[:limit]


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut on a word boundary when one is near, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if text[limit - 1] != " " and space > limit * 0.5:
        cut = cut[:space]
    return cut.rstrip() + "…"


def outlets_line(outlets: Sequence[str], most: int) -> str:
    """The outlets as a list, the first `most` named and the rest counted."""
    named = ", ".join(outlets[:most])
    rest = len(outlets) - most
    return f"{named} and {rest} more" if rest > 0 else named


def isolate(text: str) -> str:
    return f"{FSI}{text}{PDI}"


def render_text(alert: Alert) -> str:
    """Plain text: email text part, console block."""
    item = alert.item
    lines = [
        f"[{alert.watchlist}] {isolate(item.title or '(no title)')}",
        item.url,
        f"Matched: {', '.join(isolate(t) for t in matched_terms(alert))}",
    ]
    if alert.match.entities:
        lines.append(f"Entities: {', '.join(isolate(e) for e in alert.match.entities)}")
    lines.append(f"Source: {item.feed}" + (f" · {_published(alert)}" if item.published else ""))
    if alert.also_reported_by:
        lines.append(f"Also reported by: {', '.join(alert.also_reported_by)}")
    if item.summary:
        lines += ["", clip(item.summary, SUMMARY_CHARS)]
    lines += ["", f"Alert {alert.id}"]
    return "\n".join(line for line in lines if line is not None)


def render_html(alert: Alert) -> str:
    """An HTML email body; every feed string escaped."""
    return html_document(render_html_fragment(alert))


def render_html_fragment(alert: Alert) -> str:
    """The body of `render_html`, without the document around it (a digest stacks several)."""
    item, esc = alert.item, html.escape
    title = esc(item.title or "(no title)")
    terms = ", ".join(f"<bdi>{esc(t)}</bdi>" for t in matched_terms(alert))
    parts = [
        f"<p><strong>{esc(alert.watchlist)}</strong></p>",
        f'<h2 dir="auto"><a href="{esc(item.url, quote=True)}">{title}</a></h2>',
        f"<p>Matched: {terms}</p>",
    ]
    if alert.match.entities:
        parts.append(f"<p>Entities: {', '.join(f'<bdi>{esc(e)}</bdi>' for e in alert.match.entities)}</p>")
    parts.append(f"<p>Source: {esc(item.feed)}</p>")
    if alert.also_reported_by:
        parts.append(f"<p>Also reported by: {esc(', '.join(alert.also_reported_by))}</p>")
    if item.summary:
        parts.append(f'<p dir="auto">{esc(clip(item.summary, SUMMARY_CHARS))}</p>')
    parts.append(f'<p style="color:#777">Alert {esc(alert.id)}</p>')
    return "\n".join(parts)


def html_document(body: str) -> str:
    return '<!doctype html><html><head><meta charset="utf-8"></head><body>' + body + "</body></html>"


def render_telegram(alert: Alert, *, limit: int = TELEGRAM_LIMIT) -> str:
    """Bot API HTML (only its tags: b, a, i); the summary is shortened so the whole fits in `limit`."""
    item, esc = alert.item, html.escape
    head = [
        f"<b>{esc(alert.watchlist)}</b>",
        f'<a href="{esc(item.url, quote=True)}">{esc(item.title or "(no title)")}</a>',
        f"Matched: {esc(', '.join(isolate(t) for t in matched_terms(alert)))}",
    ]
    if alert.match.entities:
        head.append(f"Entities: {esc(', '.join(isolate(e) for e in alert.match.entities))}")
    tail = [f"<i>{esc(item.feed)}</i>"]
    if alert.also_reported_by:
        tail.append(f"Also reported by: {esc(outlets_line(alert.also_reported_by, TELEGRAM_OUTLETS))}")
    text = "\n".join(head + tail)
    room = limit - len(text) - 2
    if item.summary and room > 40:
        text = "\n".join([*head, "", esc(clip(item.summary, min(room, SUMMARY_CHARS))), *tail])
    return text[:limit]


def slack_body(alert: Alert) -> dict[str, Any]:
    item = alert.item
    title = _slack_escape(item.title or "(no title)")
    text = (
        f"*{_slack_escape(alert.watchlist)}*: <{_slack_escape(item.url)}|{title}>\n"
        f"Matched: {_slack_escape(', '.join(matched_terms(alert)))} · {_slack_escape(item.feed)}"
    )
    if alert.also_reported_by:
        text += f"\nAlso reported by: {_slack_escape(', '.join(alert.also_reported_by))}"
    return {"text": text, "unfurl_links": False}


def discord_body(alert: Alert) -> dict[str, Any]:
    item = alert.item
    description = f"Matched: {', '.join(matched_terms(alert))}\nSource: {item.feed}"
    if alert.also_reported_by:
        description += f"\nAlso reported by: {', '.join(alert.also_reported_by)}"
    if item.summary:
        description += "\n\n" + clip(item.summary, SUMMARY_CHARS)
    embed: dict[str, Any] = {
        "title": clip(item.title or "(no title)", 256),
        "description": description[:4096],
    }
    if item.url.startswith(("http://", "https://")):
        embed["url"] = item.url
    return {
        "content": clip(f"[{alert.watchlist}] {item.title}", DISCORD_CONTENT_LIMIT),
        "embeds": [embed],
        # Feed text must never ping @everyone or a role.
        "allowed_mentions": {"parse": []},
    }


def email_subject(alert: Alert) -> str:
    """One line (feed text can hold CR/LF, which must never reach a header), at most 200 characters."""
    return clip(f"[{alert.watchlist}] {alert.item.title or '(no title)'}", SUBJECT_CHARS)


def digest_subject(alerts: Sequence[Alert]) -> str:
    if len(alerts) == 1:
        return email_subject(alerts[0])
    watchlists = ", ".join(dict.fromkeys(a.watchlist for a in alerts))
    return clip(f"[{watchlists}] {len(alerts)} alerts", SUBJECT_CHARS)


def render_digest_text(sections: Sequence[str]) -> str:
    """Several alerts' text in one message, numbered, in the order given."""
    total = len(sections)
    return "\n\n".join(f"── {i} of {total} ──\n{text}" for i, text in enumerate(sections, 1))


def render_digest_html(fragments: Sequence[str]) -> str:
    """Several alerts' HTML fragments in one document, separated by rules."""
    return html_document("\n<hr>\n".join(fragments))


def _published(alert: Alert) -> str:
    moment = alert.item.published
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

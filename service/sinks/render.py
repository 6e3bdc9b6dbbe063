"""How an alert reads in each channel. Pure functions: an Alert in, text or a JSON body out.

Everything that comes from a feed is escaped for the channel it goes to: feed text is written by strangers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from service.models import Alert, Outlet

TELEGRAM_LIMIT = 4096
DISCORD_CONTENT_LIMIT = 2000
SUMMARY_CHARS = 600
SUBJECT_CHARS = 200
TELEGRAM_OUTLETS = 10  # outlets named at most in a Telegram message, so an edit still fits
MAX_OUTLETS = 30  # outlets named at most elsewhere
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


def outlets_line(outlets: Sequence[Outlet], most: int) -> str:
    """The outlets as a list ("irna (fa), reuters (en)"), the first `most` named and the rest counted."""
    named = ", ".join(o.label for o in outlets[:most])
    rest = len(outlets) - most
    return f"{named} and {rest} more" if rest > 0 else named


def outlets_label(alert: Alert) -> str:
    """ "Also reported by", or for a breaking alert what makes it one."""
    if alert.breaking:
        return f"Breaking, {len(alert.also_reported_by) + 1} outlets: also reported by"
    return "Also reported by"


def breaking_mark(alert: Alert) -> str:
    return "BREAKING · " if alert.breaking else ""


def isolate(text: str) -> str:
    return f"{FSI}{text}{PDI}"


def render_text(alert: Alert) -> str:
    """Plain text: email text part, console block."""
    item = alert.item
    lines = [
        f"{breaking_mark(alert)}[{alert.watchlist}] {isolate(item.title or '(no title)')}",
        item.url,
        f"Matched: {', '.join(isolate(t) for t in matched_terms(alert))}",
    ]
    if alert.match.entities:
        lines.append(f"Entities: {', '.join(isolate(e) for e in alert.match.entities)}")
    lines.append(f"Source: {item.feed}" + (f" · {_published(alert)}" if item.published else ""))
    if alert.also_reported_by:
        lines.append(f"{outlets_label(alert)}: {outlets_line(alert.also_reported_by, MAX_OUTLETS)}")
        if alert.breaking:
            lines += [f"  {o.label}: {o.url}" for o in alert.also_reported_by[:MAX_OUTLETS]]
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
        f"<p><strong>{esc(breaking_mark(alert))}{esc(alert.watchlist)}</strong></p>",
        f'<h2 dir="auto"><a href="{esc(item.url, quote=True)}">{title}</a></h2>',
        f"<p>Matched: {terms}</p>",
    ]
    if alert.match.entities:
        parts.append(f"<p>Entities: {', '.join(f'<bdi>{esc(e)}</bdi>' for e in alert.match.entities)}</p>")
    parts.append(f"<p>Source: {esc(item.feed)}</p>")
    if alert.also_reported_by:
        links = ", ".join(_html_outlet(o) for o in alert.also_reported_by[:MAX_OUTLETS])
        parts.append(f"<p>{esc(outlets_label(alert))}: {links}</p>")
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
        f"<b>{esc(breaking_mark(alert))}{esc(alert.watchlist)}</b>",
        f'<a href="{esc(item.url, quote=True)}">{esc(item.title or "(no title)")}</a>',
        f"Matched: {esc(', '.join(isolate(t) for t in matched_terms(alert)))}",
    ]
    if alert.match.entities:
        head.append(f"Entities: {esc(', '.join(isolate(e) for e in alert.match.entities))}")
    tail = [f"<i>{esc(item.feed)}</i>"]
    if alert.also_reported_by:
        named = alert.also_reported_by[:TELEGRAM_OUTLETS]
        rest = len(alert.also_reported_by) - len(named)
        line = ", ".join(_html_outlet(o) for o in named) + (f" and {rest} more" if rest > 0 else "")
        tail.append(f"{esc(outlets_label(alert))}: {line}")
    text = "\n".join(head + tail)
    room = limit - len(text) - 2
    if item.summary and room > 40:
        text = "\n".join([*head, "", esc(clip(item.summary, min(room, SUMMARY_CHARS))), *tail])
    return text[:limit]


def slack_body(alert: Alert) -> dict[str, Any]:
    item = alert.item
    title = _slack_escape(item.title or "(no title)")
    text = (
        f"{breaking_mark(alert)}*{_slack_escape(alert.watchlist)}*: <{_slack_escape(item.url)}|{title}>\n"
        f"Matched: {_slack_escape(', '.join(matched_terms(alert)))} · {_slack_escape(item.feed)}"
    )
    if alert.also_reported_by:
        line = outlets_line(alert.also_reported_by, MAX_OUTLETS)
        text += f"\n{outlets_label(alert)}: {_slack_escape(line)}"
    return {"text": text, "unfurl_links": False}


def discord_body(alert: Alert) -> dict[str, Any]:
    item = alert.item
    description = f"Matched: {', '.join(matched_terms(alert))}\nSource: {item.feed}"
    if alert.also_reported_by:
        description += f"\n{outlets_label(alert)}: {outlets_line(alert.also_reported_by, MAX_OUTLETS)}"
    if item.summary:
        description += "\n\n" + clip(item.summary, SUMMARY_CHARS)
    embed: dict[str, Any] = {
        "title": clip(item.title or "(no title)", 256),
        "description": description[:4096],
    }
    if item.url.startswith(("http://", "https://")):
        embed["url"] = item.url
    return {
        "content": clip(f"{breaking_mark(alert)}[{alert.watchlist}] {item.title}", DISCORD_CONTENT_LIMIT),
        "embeds": [embed],
        # Feed text must never ping @everyone or a role.
        "allowed_mentions": {"parse": []},
    }


def email_subject(alert: Alert) -> str:
    """One line (feed text can hold CR/LF, which must never reach a header), at most 200 characters."""
    return clip(
        f"{breaking_mark(alert)}[{alert.watchlist}] {alert.item.title or '(no title)'}", SUBJECT_CHARS
    )


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


def _html_outlet(outlet: Outlet) -> str:
    """An outlet linked to its copy when the copy has a web address (Telegram's HTML and email's)."""
    label = html.escape(outlet.label)
    if outlet.url.startswith(("http://", "https://")):
        return f'<a href="{html.escape(outlet.url, quote=True)}">{label}</a>'
    return label


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

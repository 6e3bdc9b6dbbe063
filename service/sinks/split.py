"""Cutting a message that is too long for Telegram into parts the Bot API accepts, each valid by itself.

The Bot API limits `text` to 4096 characters *after entity parsing* (tags removed, entities decoded) and
counts entity offsets in UTF-16 code units, so the visible text is measured in UTF-16 units here: the
conservative reading (an emoji counts 2, an Arabic letter 1).

A cut falls on a paragraph break, else a line break, else a space, else between any two characters, and
never inside a tag or an entity. A tag still open at a cut is closed at the end of its part and opened
again at the start of the next, so every part is balanced HTML on its own, and the visible texts of the
parts, joined, give the original back (the whitespace at a cut stays at the end of the earlier part).
Pure functions; no I/O.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from enum import Enum

from service.sinks.render import TELEGRAM_LIMIT

# Telegram shows at most 100 formatting entities per message and silently drops the rest.
MAX_ENTITIES = 100
# A preferred break (paragraph, then line) is taken only when it keeps at least this share of the limit,
# so one early blank line does not produce a tiny part.
_PREFERRED_SHARE = 0.5

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')""")


class Kind(Enum):
    TEXT = "text"
    ENTITY = "entity"
    OPEN = "open"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    raw: str  # as written in the message
    visible: str = ""  # what the reader sees: the character, or the entity decoded
    name: str = ""  # the tag name, for OPEN and CLOSE


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: what Telegram counts."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def tokenize(text: str, *, markup: bool = True) -> list[Token]:
    """Tags and entities as whole tokens, every other character as one token of its own."""
    if not markup:
        return [Token(Kind.TEXT, ch, ch) for ch in text]
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        found = _TAG.match(text, i) if ch == "<" else _ENTITY.match(text, i) if ch == "&" else None
        if found is None:
            tokens.append(Token(Kind.TEXT, ch, ch))
            i += 1
        elif ch == "&":
            tokens.append(Token(Kind.ENTITY, found.group(0), html.unescape(found.group(0))))
            i = found.end()
        else:
            kind = Kind.CLOSE if found.group(1) else Kind.OPEN
            tokens.append(Token(kind, found.group(0), name=found.group(2).lower()))
            i = found.end()
    return tokens


def visible_text(text: str, *, markup: bool = True) -> str:
    """The text a reader sees: tags dropped, entities decoded."""
    return "".join(t.visible for t in tokenize(text, markup=markup))


def to_plain(part: str, *, limit: int = TELEGRAM_LIMIT) -> str:
    """A part's HTML as plain text for the no-markup fallback; links keep their address when it fits."""
    out: list[str] = []
    hrefs: list[str | None] = []
    for token in tokenize(part):
        if token.kind is Kind.OPEN and token.name == "a":
            found = _HREF.search(token.raw)
            hrefs.append(html.unescape(found.group(1) or found.group(2) or "") if found else None)
        elif token.kind is Kind.CLOSE and token.name == "a" and hrefs:
            href = hrefs.pop()
            if href:
                out.append(f" ({href})")
        out.append(token.visible)
    with_links = "".join(out)
    return with_links if utf16_len(with_links) <= limit else visible_text(part)


@dataclass(slots=True)
class _Break:
    index: int  # the token index the next part starts at
    used: int  # visible UTF-16 units before it
    stack: tuple[Token, ...]  # tags open at that point


def split_message(
    text: str, *, limit: int = TELEGRAM_LIMIT, max_entities: int = MAX_ENTITIES, markup: bool = True
) -> list[str]:
    """`text` as one or more parts, each at most `limit` visible UTF-16 units and `max_entities` tags.

    Parts whose visible text is only whitespace are dropped (the Bot API refuses an empty message).
    """
    if limit < 2:
        raise ValueError("the limit must leave room for at least one character")
    tokens = tokenize(text, markup=markup)
    parts: list[str] = []
    start = 0
    stack: tuple[Token, ...] = ()
    while start < len(tokens):
        cut = _fit(tokens, start, stack, limit, max_entities)
        body = "".join(t.raw for t in stack) + "".join(t.raw for t in tokens[start : cut.index])
        body += "".join(f"</{t.name}>" for t in reversed(cut.stack))
        if "".join(t.visible for t in tokens[start : cut.index]).strip():
            parts.append(body)
        start, stack = cut.index, cut.stack
    return parts


def _fit(tokens: list[Token], start: int, stack: tuple[Token, ...], limit: int, max_entities: int) -> _Break:
    """Where the part that begins at `start` (with `stack` reopened) has to end."""
    used, entities, open_tags = 0, len(stack), list(stack)
    breaks: dict[str, _Break] = {}
    for i in range(start, len(tokens)):
        token = tokens[i]
        if token.kind is Kind.OPEN:
            entities += 1
            if entities > max_entities and i > start:
                return _choose(tokens, start, breaks, _Break(i, used, tuple(open_tags)), limit)
            open_tags.append(token)
            continue
        if token.kind is Kind.CLOSE:
            _close(open_tags, token.name)
            continue
        width = utf16_len(token.visible)
        if used + width > limit and i > start:
            return _choose(tokens, start, breaks, _Break(i, used, tuple(open_tags)), limit)
        used += width
        _note_break(tokens, i, used, open_tags, breaks)
    return _Break(len(tokens), used, tuple(open_tags))


def _note_break(
    tokens: list[Token], i: int, used: int, open_tags: list[Token], breaks: dict[str, _Break]
) -> None:
    ch = tokens[i].visible
    if ch == "\n":
        before = _previous_visible(tokens, i)
        kind = "paragraph" if before == "\n" else "line"
        breaks[kind] = _Break(i + 1, used, tuple(open_tags))
    elif ch.isspace():
        breaks["word"] = _Break(i + 1, used, tuple(open_tags))


def _previous_visible(tokens: list[Token], i: int) -> str:
    for j in range(i - 1, -1, -1):
        if tokens[j].visible:
            return tokens[j].visible
    return ""


def _choose(tokens: list[Token], start: int, breaks: dict[str, _Break], hard: _Break, limit: int) -> _Break:
    for kind in ("paragraph", "line"):
        found = breaks.get(kind)
        if found is not None and found.used >= limit * _PREFERRED_SHARE:
            return found
    if "word" in breaks:
        return breaks["word"]
    if "line" in breaks or "paragraph" in breaks:
        return max((b for b in breaks.values()), key=lambda b: b.index)
    return _back_off_open_tags(tokens, start, hard)


def _back_off_open_tags(tokens: list[Token], start: int, cut: _Break) -> _Break:
    """A hard cut right after an opening tag would leave it empty: move the tag into the next part."""
    index, stack = cut.index, list(cut.stack)
    while (
        index - 1 > start and tokens[index - 1].kind is Kind.OPEN and stack and stack[-1] is tokens[index - 1]
    ):
        index -= 1
        stack.pop()
    return _Break(index, cut.used, tuple(stack))


def _close(open_tags: list[Token], name: str) -> None:
    for j in range(len(open_tags) - 1, -1, -1):
        if open_tags[j].name == name:
            del open_tags[j]
            return


TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji"}
    | {"tg-time", "code", "pre", "blockquote"}
)
TELEGRAM_NAMED_ENTITIES = frozenset({"&lt;", "&gt;", "&amp;", "&quot;"})


def telegram_markup_problem(text: str) -> str | None:
    """Why the Bot API would refuse this HTML (a tag it does not know, a named entity it does not
    decode, an unbalanced tag, a bare `<` or `&`), or None when it follows the documented rules."""
    open_tags: list[str] = []
    for token in tokenize(text):
        if token.kind is Kind.OPEN:
            if token.name not in TELEGRAM_TAGS:
                return f"Telegram does not support the tag <{token.name}>"
            open_tags.append(token.name)
        elif token.kind is Kind.CLOSE:
            if not open_tags or open_tags[-1] != token.name:
                return f"the closing tag </{token.name}> does not match an open tag"
            open_tags.pop()
        elif token.kind is Kind.ENTITY and not token.raw.startswith("&#"):
            if token.raw not in TELEGRAM_NAMED_ENTITIES:
                return f"Telegram does not decode the entity {token.raw}"
        elif token.raw in "<>&":
            return f"a bare {token.raw!r} must be escaped"
    if open_tags:
        return f"the tag <{open_tags[-1]}> is never closed"
    return None

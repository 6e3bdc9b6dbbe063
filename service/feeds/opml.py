"""OPML subscription lists → `[[feeds]]` TOML blocks for the config file (pure)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from urllib.parse import urlsplit

from anyascii import anyascii

from service.errors import UserError

_NON_SLUG = re.compile(r"[^a-z0-9]+")
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_MAX_NAME = 48


class OpmlError(UserError):
    """The OPML file could not be read."""


def opml_to_toml(data: bytes) -> str:
    """One `[[feeds]]` block per outline with an http(s) `xmlUrl`, nested outlines included.

    Names are slugs of the outline's title (transliterated to ASCII: "شفق نيوز" → "shfq-nywz"),
    else of the URL's host, made unique with "-2", "-3", ... The enclosing category, when there is
    one, is written as a comment. Raises OpmlError for malformed XML or entity declarations.
    """
    root = _parse(data)
    taken: set[str] = set()
    blocks = []
    for title, url, category in _outlines(root, ""):
        name = _unique(_slug(title) or _slug(urlsplit(url).hostname or "") or "feed", taken)
        blocks.append(_block(name, url, title, category))
    return "\n".join(blocks)


def _parse(data: bytes) -> ElementTree.Element:
    if _ENTITY.search(data):  # no entity expansion from a file a user downloaded somewhere
        raise OpmlError("OPML file declares XML entities; refusing it")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise OpmlError(f"OPML file is not well-formed XML: {exc}") from exc


def _outlines(node: ElementTree.Element, category: str) -> Iterator[tuple[str, str, str]]:
    for child in node:
        if _local(child.tag) in ("body", "outline"):
            url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
            title = (child.get("title") or child.get("text") or "").strip()
            if url.lower().startswith(("http://", "https://")):
                yield title, url, category
            yield from _outlines(child, title if not url else category)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _slug(text: str) -> str:
    return _NON_SLUG.sub("-", anyascii(text).lower()).strip("-")[:_MAX_NAME].strip("-")


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 1
    while candidate in taken:
        counter += 1
        candidate = f"{name}-{counter}"
    taken.add(candidate)
    return candidate


def _block(name: str, url: str, title: str, category: str) -> str:
    lines = ["[[feeds]]"]
    if title:
        lines.append(f"# {_comment(title)}" + (f" (category: {_comment(category)})" if category else ""))
    lines += [f"name = {toml_string(name)}", f"url = {toml_string(url)}", ""]
    return "\n".join(lines)


def _comment(text: str) -> str:
    return " ".join(text.split())


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = []
    for char in value:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'

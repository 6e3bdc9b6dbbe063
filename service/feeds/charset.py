"""Turning feed and page bytes into text: BOM, HTTP charset, in-document declaration, repair.

Order of evidence: a per-feed override; a byte-order mark; the HTTP `charset`; the document's own
declaration (XML `encoding=` or HTML `<meta charset>`); UTF-8; windows-1252 as the last resort.
The first candidate that decodes strictly wins, with two corrections for what servers get wrong:

- A latin-1/windows-1252 label on bytes that are valid, non-ASCII UTF-8 is taken as UTF-8
  (mislabelled UTF-8 is common; latin text that happens to be valid UTF-8 is vanishingly rare).
- A latin-1/windows-1252 result that looks like Arabic windows-1256 mojibake is re-decoded as
  windows-1256. Latin-1 accepts every byte, so without this check such a feed would silently
  produce "ÇáÏæáí" for "الدولي" and no watchlist would ever match it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BOMLESS_UTF16 = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,300}?charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
_CONTENT_TYPE_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
_LATIN = frozenset({"latin-1", "iso8859-1", "cp1252", "iso8859-15", "ascii"})
_WIDE = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})
_HIGH_RUNS = re.compile(rb"[\x80-\xff]+")
_SAMPLE = 256 * 1024
_ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))


class UnknownEncodingError(ValueError):
    """A per-feed override names no text encoding Python knows."""


def charset_from_content_type(value: str | None) -> str | None:
    """The `charset` parameter of a Content-Type header, if any."""
    if not value:
        return None
    found = _CONTENT_TYPE_CHARSET.search(value)
    return found.group(1) if found else None


def xml_declared_encoding(body: bytes) -> str | None:
    """The `encoding` of an ASCII-compatible XML declaration, if any."""
    found = _XML_DECL.match(body[:1024])
    return found.group(1).decode("ascii") if found else None


def html_declared_encoding(body: bytes) -> str | None:
    """The charset a `<meta>` tag in the first 4 KB declares, if any."""
    found = _META_CHARSET.search(body[:4096])
    return found.group(1).decode("ascii") if found else None


def decode_bytes(
    body: bytes, declared: Iterable[str | None], *, override: str | None = None
) -> tuple[str, str]:
    """Decode `body`, trying the `declared` labels in order (see the module docstring).

    Returns the text and the codec name actually used. Raises UnknownEncodingError only for a bad
    `override`; bad labels from the document or the server are skipped.
    """
    if override:
        codec = codec_name(override)
        if codec is None:
            raise UnknownEncodingError(f"unknown encoding {override!r}")
        return body.decode(codec, errors="replace"), codec
    sniffed = _sniff_wide(body)
    if sniffed is not None:
        return body.decode(sniffed, errors="replace"), sniffed
    for label in declared:
        decoded = _try_label(body, label)
        if decoded is not None:
            return _repair(body, *decoded)
    for codec in ("utf-8", "cp1252"):
        decoded = _try_strict(body, codec)
        if decoded is not None:
            return _repair(body, *decoded)
    return _repair(body, body.decode("cp1252", errors="replace"), "cp1252")


def _sniff_wide(body: bytes) -> str | None:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec
    for prefix, codec in _BOMLESS_UTF16:
        if body.startswith(prefix):
            return codec
    return None


def codec_name(label: str) -> str | None:
    """Python's canonical name for an encoding label, or None if it names none."""
    try:
        return codecs.lookup(label.strip()).name
    except (LookupError, ValueError):  # ValueError: a NUL inside the label
        return None


def _try_label(body: bytes, label: str | None) -> tuple[str, str] | None:
    codec = codec_name(label) if label else None
    if codec is None or codec in _WIDE:  # an ASCII-readable document is not UTF-16/32
        return None
    if codec in _LATIN and not body.isascii():
        as_utf8 = _try_strict(body, "utf-8")
        if as_utf8 is not None:
            return as_utf8
    return _try_strict(body, codec)


def _try_strict(body: bytes, codec: str) -> tuple[str, str] | None:
    try:
        return body.decode(codec), codec
    except (UnicodeDecodeError, LookupError):  # LookupError: a bytes-to-bytes codec such as "zlib"
        return None


def _repair(body: bytes, text: str, codec: str) -> tuple[str, str]:
    if codec in _LATIN and looks_like_cp1256(body):
        return body.decode("cp1256"), "cp1256"
    return text, codec


def looks_like_cp1256(body: bytes) -> bool:
    """True when the non-ASCII bytes read as Arabic words in windows-1256.

    Two tests on the first 256 KB, both needed: at least 60% of the high bytes decode to
    Arabic-block characters, and at least 60% of them sit in runs of two or more (Arabic words
    are runs of high bytes, while accented letters in French or German text are islands between
    ASCII letters). At least 8 high bytes are required before guessing at all.
    """
    runs = _HIGH_RUNS.findall(body[:_SAMPLE])
    total = sum(len(run) for run in runs)
    if total < 8:
        return False
    paired = sum(len(run) for run in runs if len(run) > 1)
    arabic = sum(1 for char in b"".join(runs).decode("cp1256") if _is_arabic(char))
    return arabic >= 0.6 * total and paired >= 0.6 * total


def _is_arabic(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= top for low, top in _ARABIC_RANGES)

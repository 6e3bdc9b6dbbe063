"""Watchlist matching: the query language, its compiler and the multilingual matcher.

Pure: no I/O, no clock, no logging. `compile_matcher` once per config; `Matcher.match` per item.
"""

from service.match.compile import compile_matcher
from service.match.explain import Clause, Explanation, explain_item
from service.match.matcher import Matcher
from service.match.query import Query, parse_query, query_references, to_text
from service.match.scan import __file__ as _scan_file


def engine_build() -> str:
    """ "compiled" when the engine runs as the extension modules setup.py builds, else "python"."""
    return "python" if (_scan_file or "").endswith(".py") else "compiled"


__all__ = [
    "Clause",
    "Explanation",
    "Matcher",
    "Query",
    "compile_matcher",
    "engine_build",
    "explain_item",
    "parse_query",
    "query_references",
    "to_text",
]

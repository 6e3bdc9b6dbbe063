"""Watchlist matching: the query language, its compiler and the multilingual matcher.

Pure: no I/O, no clock, no logging. `compile_matcher` once per config; `Matcher.match` per item.
"""

from service.match.compile import compile_matcher
from service.match.explain import describe_match
from service.match.matcher import Matcher
from service.match.query import Query, parse_query, query_references, to_text

__all__ = [
    "Matcher",
    "Query",
    "compile_matcher",
    "describe_match",
    "parse_query",
    "query_references",
    "to_text",
]

"""What a fetch returns: a plain value, so the pure scheduler can read it without importing aiohttp."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One completed fetch.

    `headers` has lower-case keys. `url` is the final URL after redirects; `permanent_url` is set
    only when there was at least one redirect and every hop was 301 or 308. `not_modified` is
    True for a 304 and for a 200 with an empty body (some servers answer conditional requests that
    way); `body` is then empty. `max_age` comes from `Cache-Control: max-age`. `elapsed` is in
    seconds.
    """

    status: int
    body: bytes
    headers: Mapping[str, str]
    url: str
    permanent_url: str | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    max_age: float | None
    elapsed: float

"""The HTTP (and file://) adapter: one aiohttp session per kind of fetch, hard limits everywhere.

Every failure leaves as FetchError (FeedGone for 410); aiohttp's exceptions never escape. Error
messages name the host, never the full URL: feed URLs sometimes carry access tokens.

Limits, all explicit because aiohttp's defaults suit browsers, not pollers:
  - one wall-clock deadline (`total_timeout`) over every redirect hop and the body, started only
    once a concurrency slot (global and per-host) is held, so queueing never eats the budget;
  - `connect_timeout` per TCP connect;
  - `max_bytes` on the DECOMPRESSED body, counted chunk by chunk (aiohttp's `read()` would
    happily inflate a 0.5 MB gzip into 512 MiB);
  - redirects followed by hand, at most `max_redirects`, http(s) only, so each hop's status is known
    (`permanent_url` needs every hop to be 301/308).
Article pages (and feeds when `allow_private` is False) go through the SSRF guard in `guard.py`.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import urlsplit
from urllib.request import url2pathname

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from service import USER_AGENT
from service.errors import FeedGone, FetchError
from service.feeds.guard import AddressPolicy, BlockedAddressError, guarded_socket_factory, is_public_address
from service.feeds.result import FetchResult
from service.feeds.schedule import MAX_RETRY_AFTER
from service.retry_after import parse_retry_after

__all__ = ["FetchLimits", "FetchResult", "Fetcher"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_CHUNK = 64 * 1024
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})", re.IGNORECASE)
_FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
_PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Caps for every fetch. `allow_private` applies to feeds only; article pages never may."""

    max_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 10
    total_timeout: float = 30
    max_redirects: int = 5
    concurrency: int = 50
    per_host: int = 4
    allow_private: bool = True


class Fetcher:
    """Fetches feeds and article pages; use as `async with Fetcher(limits, user_agent=...) as f`.

    `address_policy` decides which connect addresses the SSRF guard allows (tests inject one that
    treats a loopback address as public); `resolver` replaces aiohttp's DNS resolver (tests).
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        user_agent: str | None = None,
        address_policy: AddressPolicy = is_public_address,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._limits = limits
        self._user_agent = user_agent or USER_AGENT
        self._policy = address_policy
        self._resolver = resolver
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._feeds: aiohttp.ClientSession | None = None
        self._pages: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        self._feeds = self._session(guarded=not self._limits.allow_private)
        self._pages = self._session(guarded=True)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        for session in (self._feeds, self._pages):
            if session is not None:
                await session.close()
        self._feeds = self._pages = None

    async def fetch_feed(self, url: str, *, etag: str | None, last_modified: str | None) -> FetchResult:
        """GET a feed with conditional headers (sent verbatim). http(s):// or file://."""
        if url.lower().startswith("file:"):
            return await _fetch_file(url, last_modified, self._limits.max_bytes)
        headers = {"Accept": _FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._fetch(_require(self._feeds), url, headers)

    async def fetch_article(self, url: str) -> FetchResult:
        """GET an article page: http(s) only, always through the SSRF guard, same caps as feeds."""
        return await self._fetch(_require(self._pages), url, {"Accept": _PAGE_ACCEPT})

    def _session(self, *, guarded: bool) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limits.concurrency,
            limit_per_host=self._limits.per_host,
            ttl_dns_cache=60,
            resolver=self._resolver,
            socket_factory=guarded_socket_factory(self._policy) if guarded else None,
        )
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._limits.connect_timeout)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"User-Agent": self._user_agent},
            trust_env=False,  # a proxy from the environment would bypass the connect-time guard
        )

    async def _fetch(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> FetchResult:
        target = _http_url(url)
        async with self._slots, self._host_slot(target.host or ""):
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._limits.total_timeout):
                    return await self._follow(session, target, headers, started)
            except TimeoutError as exc:
                raise FetchError(f"timed out after {self._limits.total_timeout:g}s ({target.host})") from exc
            except aiohttp.ClientError as exc:
                raise _client_error(exc, target) from exc
            except (OSError, ValueError) as exc:
                raise FetchError(f"{type(exc).__name__} fetching {target.host}") from exc

    def _host_slot(self, host: str) -> asyncio.Semaphore:
        slot = self._host_slots.get(host)
        if slot is None:
            slot = self._host_slots[host] = asyncio.Semaphore(self._limits.per_host)
        return slot

    async def _follow(
        self, session: aiohttp.ClientSession, url: URL, headers: dict[str, str], started: float
    ) -> FetchResult:
        hops: list[int] = []
        while True:
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status not in _REDIRECTS or not location:
                    return await self._finish(response, hops, started)
            hops.append(response.status)
            if len(hops) > self._limits.max_redirects:
                raise FetchError(f"more than {self._limits.max_redirects} redirects ({url.host})")
            url = _http_url(str(url.join(URL(location))))

    async def _finish(self, response: aiohttp.ClientResponse, hops: list[int], started: float) -> FetchResult:
        status = response.status
        if status >= 300 and status != 304:
            raise _status_error(response)
        body = b"" if status == 304 else await _read_capped(response, self._limits.max_bytes)
        headers = {key.lower(): value for key, value in response.headers.items()}
        return FetchResult(
            status=status,
            body=body,
            headers=headers,
            url=str(response.url),
            permanent_url=str(response.url) if hops and _PERMANENT.issuperset(hops) else None,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            not_modified=status == 304 or not body,
            max_age=_max_age(headers.get("cache-control")),
            elapsed=time.monotonic() - started,
        )


def _require(session: aiohttp.ClientSession | None) -> aiohttp.ClientSession:
    if session is None:
        raise RuntimeError("Fetcher used outside `async with`")
    return session


def _http_url(url: str) -> URL:
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise FetchError("invalid URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(f"refused URL scheme {parsed.scheme!r}: only http and https are fetched")
    return parsed


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > cap and not response.headers.get("Content-Encoding"):
        raise FetchError(f"body of {declared} bytes exceeds the {cap}-byte cap", status=response.status)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):  # decompressed chunks
        size += len(chunk)
        if size > cap:
            response.close()  # drop the connection rather than drain the rest
            raise FetchError(f"body exceeds the {cap}-byte cap", status=response.status)
        chunks.append(chunk)
    return b"".join(chunks)


def _status_error(response: aiohttp.ClientResponse) -> FetchError:
    status = response.status
    where = response.url.host
    if status == 410:
        return FeedGone(f"HTTP 410 Gone ({where})", status=status)
    if status in _REDIRECTS:
        return FetchError(f"HTTP {status} without Location ({where})", status=status)
    # Retry-After is read on every error status; 429 and 503 are where servers send it.
    retry_after = response.headers.get("Retry-After")
    delay = parse_retry_after(retry_after, datetime.now(UTC), cap=MAX_RETRY_AFTER) if retry_after else None
    return FetchError(f"HTTP {status} ({where})", status=status, retry_after=delay)


def _client_error(exc: aiohttp.ClientError, url: URL) -> FetchError:
    if isinstance(exc, aiohttp.ClientConnectorError) and _blocked(exc):
        return FetchError(f"refused to connect to a non-public address ({url.host})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError(f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}")
    return FetchError(f"{type(exc).__name__} fetching {url.host}")


def _blocked(exc: aiohttp.ClientConnectorError) -> bool:
    # With several resolved addresses aiohappyeyeballs folds the errors into one plain OSError.
    return isinstance(exc.os_error, BlockedAddressError) or "blocked non-public address" in str(exc.os_error)


def _max_age(cache_control: str | None) -> float | None:
    if not cache_control or "no-store" in cache_control.lower():
        return None
    found = _MAX_AGE.search(cache_control)
    return float(found.group(1)) if found else None


async def _fetch_file(url: str, last_modified: str | None, cap: int) -> FetchResult:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError("file:// URLs must name a local path")
    started = time.monotonic()
    return await asyncio.to_thread(_read_file, url, url2pathname(parts.path), last_modified, cap, started)


def _read_file(url: str, path: str, last_modified: str | None, cap: int, started: float) -> FetchResult:
    """Read a local feed; its mtime plays the part of Last-Modified, so unchanged files are 304s."""
    try:
        stamp = formatdate(os.stat(path).st_mtime, usegmt=True)
        unchanged = stamp == last_modified
        body = b""
        if not unchanged:
            with open(path, "rb") as handle:
                body = handle.read(cap + 1)
    except OSError as exc:
        raise FetchError(f"cannot read feed file: {exc.strerror or exc}") from exc
    if len(body) > cap:
        raise FetchError(f"file exceeds the {cap}-byte cap")
    return FetchResult(
        status=304 if unchanged else 200,
        body=body,
        headers={},
        url=url,
        permanent_url=None,
        etag=None,
        last_modified=stamp,
        not_modified=unchanged or not body,
        max_age=None,
        elapsed=time.monotonic() - started,
    )

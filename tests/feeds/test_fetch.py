"""The aiohttp adapter against real loopback servers: HTTP semantics, limits, SSRF guard."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import resource
import socket
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from service import USER_AGENT
from service.errors import FeedGone, FetchError
from service.feeds.fetch import Fetcher, FetchLimits
from service.feeds.guard import IPAddress
from tests.feeds.conftest import ServeFactory, rss, rss_item

FEED = rss(rss_item(guid="1", title="صواريخ")).encode()
MiB = 1024 * 1024


def limits(**changes: Any) -> FetchLimits:
    base: dict[str, Any] = {"total_timeout": 5.0, "connect_timeout": 2.0}
    base.update(changes)
    return FetchLimits(**base)


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(limits(), user_agent=None) as client:
        yield client


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- conditional GET, status codes -------------------------------------------------------------


@pytest.mark.asyncio
async def test_validators_round_trip_verbatim_and_304_is_not_modified(
    serve: ServeFactory, fetcher: Fetcher
) -> None:
    seen: list[dict[str, str]] = []

    async def feed(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == 'W/"abc"':
            return web.Response(status=304)
        headers = {"ETag": 'W/"abc"', "Last-Modified": "Wed, 09 Jun 2021 10:00:00 GMT"}
        return web.Response(body=FEED, headers=headers, content_type="application/rss+xml")

    server = await serve({"/feed": feed})
    url = str(server.make_url("/feed"))
    first = await fetcher.fetch_feed(url, etag=None, last_modified=None)
    assert (first.status, first.body, first.not_modified) == (200, FEED, False)
    assert (first.etag, first.last_modified) == ('W/"abc"', "Wed, 09 Jun 2021 10:00:00 GMT")
    assert first.headers["content-type"].startswith("application/rss+xml")
    second = await fetcher.fetch_feed(url, etag=first.etag, last_modified=first.last_modified)
    assert (second.status, second.body, second.not_modified) == (304, b"", True)
    assert seen[1]["If-None-Match"] == 'W/"abc"'
    assert seen[1]["If-Modified-Since"] == "Wed, 09 Jun 2021 10:00:00 GMT"
    assert seen[0]["User-Agent"] == USER_AGENT
    assert seen[0]["User-Agent"].startswith("newsalert/")
    assert "gzip" in seen[0]["Accept-Encoding"]
    assert "If-None-Match" not in seen[0]


@pytest.mark.asyncio
async def test_an_empty_200_is_treated_as_not_modified(serve: ServeFactory, fetcher: Fetcher) -> None:
    async def empty(request: web.Request) -> web.Response:
        return web.Response(body=b"", headers={"Cache-Control": "public, max-age=600"})

    server = await serve({"/feed": empty})
    result = await fetcher.fetch_feed(str(server.make_url("/feed")), etag='"x"', last_modified=None)
    assert (result.status, result.not_modified, result.max_age) == (200, True, 600.0)


@pytest.mark.asyncio
async def test_gzip_bodies_are_decompressed(serve: ServeFactory, fetcher: Fetcher) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(FEED), headers={"Content-Encoding": "gzip"})

    server = await serve({"/feed": feed})
    assert (
        await fetcher.fetch_feed(str(server.make_url("/feed")), etag=None, last_modified=None)
    ).body == FEED


@pytest.mark.asyncio
async def test_410_raises_feed_gone(serve: ServeFactory, fetcher: Fetcher) -> None:
    async def gone(request: web.Request) -> web.Response:
        return web.Response(status=410)

    server = await serve({"/feed": gone})
    with pytest.raises(FeedGone) as caught:
        await fetcher.fetch_feed(str(server.make_url("/feed")), etag=None, last_modified=None)
    assert caught.value.status == 410


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_rate_limits_carry_retry_after(
    serve: ServeFactory, fetcher: Fetcher, status: int, form: str
) -> None:
    value = (
        "3600" if form == "seconds" else format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    )

    async def limited(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Retry-After": value})

    server = await serve({"/feed": limited})
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch_feed(str(server.make_url("/feed")), etag=None, last_modified=None)
    assert caught.value.status == status
    assert caught.value.retry_after is not None
    assert 3590 <= caught.value.retry_after <= 3600


@pytest.mark.asyncio
async def test_other_errors_carry_their_status_and_name_only_the_host(
    serve: ServeFactory, fetcher: Fetcher
) -> None:
    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404)

    server = await serve({"/feed": missing})
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch_feed(str(server.make_url("/feed?token=s3cret")), etag=None, last_modified=None)
    assert caught.value.status == 404
    assert caught.value.retry_after is None
    assert "s3cret" not in str(caught.value)


# --- redirects ---------------------------------------------------------------------------------


def redirect_chain(statuses: list[int]) -> dict[str, Callable[[web.Request], Awaitable[web.Response]]]:
    routes: dict[str, Callable[[web.Request], Awaitable[web.Response]]] = {}
    for hop, status in enumerate(statuses):

        async def handler(request: web.Request, status: int = status, hop: int = hop) -> web.Response:
            return web.Response(status=status, headers={"Location": f"/hop{hop + 1}"})

        routes[f"/hop{hop}"] = handler

    async def final(request: web.Request) -> web.Response:
        return web.Response(body=FEED)

    routes[f"/hop{len(statuses)}"] = final
    return routes


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("statuses", "permanent"),
    [
        ([301], True),
        ([301, 308], True),
        ([302], False),
        ([307], False),
        ([301, 302], False),
        ([303, 301], False),
    ],
)
async def test_permanent_url_only_when_every_hop_is_permanent(
    serve: ServeFactory, fetcher: Fetcher, statuses: list[int], permanent: bool
) -> None:
    server = await serve(redirect_chain(statuses))
    result = await fetcher.fetch_feed(str(server.make_url("/hop0")), etag=None, last_modified=None)
    final = str(server.make_url(f"/hop{len(statuses)}"))
    assert (result.body, result.url) == (FEED, final)
    assert result.permanent_url == (final if permanent else None)


@pytest.mark.asyncio
async def test_five_redirects_are_followed_and_six_are_refused(serve: ServeFactory, fetcher: Fetcher) -> None:
    server = await serve(redirect_chain([302] * 5))
    assert (
        await fetcher.fetch_feed(str(server.make_url("/hop0")), etag=None, last_modified=None)
    ).body == FEED
    server = await serve(redirect_chain([302] * 6))
    with pytest.raises(FetchError, match="redirects"):
        await fetcher.fetch_feed(str(server.make_url("/hop0")), etag=None, last_modified=None)


@pytest.mark.asyncio
async def test_a_redirect_loop_is_an_error(serve: ServeFactory, fetcher: Fetcher) -> None:
    async def loop(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop"})

    server = await serve({"/loop": loop})
    with pytest.raises(FetchError, match="redirects"):
        await fetcher.fetch_feed(str(server.make_url("/loop")), etag=None, last_modified=None)


@pytest.mark.asyncio
async def test_a_redirect_to_another_scheme_is_refused(serve: ServeFactory, fetcher: Fetcher) -> None:
    async def to_file(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "file:///etc/passwd"})

    server = await serve({"/feed": to_file})
    with pytest.raises(FetchError, match="scheme"):
        await fetcher.fetch_feed(str(server.make_url("/feed")), etag=None, last_modified=None)


# --- time and size limits ---------------------------------------------------------------------


class RawServer:
    """A bare TCP server on loopback that counts connections and runs `behaviour` on each."""

    def __init__(
        self, behaviour: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    ) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> int:
        self.server = await asyncio.start_server(self._handle, host, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            await self.behaviour(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def raw_servers() -> AsyncIterator[list[RawServer]]:
    servers: list[RawServer] = []
    yield servers
    for server in servers:
        await server.close()


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client gives up


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
@pytest.mark.parametrize("behaviour", [never_answer, trickle], ids=["silent", "trickle"])
async def test_a_stalled_server_costs_at_most_the_total_timeout(
    raw_servers: list[RawServer],
    behaviour: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> None:
    raw = RawServer(behaviour)
    raw_servers.append(raw)
    port = await raw.start()
    async with Fetcher(limits(total_timeout=0.5)) as client:
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            await client.fetch_feed(f"http://127.0.0.1:{port}/feed", etag=None, last_modified=None)
        assert time.monotonic() - started < 1.5


@pytest.mark.asyncio
async def test_a_stalled_feed_does_not_hold_up_the_others(
    serve: ServeFactory, raw_servers: list[RawServer]
) -> None:
    raw = RawServer(never_answer)
    raw_servers.append(raw)
    port = await raw.start()

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=FEED)

    server = await serve({"/feed": feed})
    async with Fetcher(limits(total_timeout=1.0, concurrency=2)) as client:
        stalled = asyncio.ensure_future(
            client.fetch_feed(f"http://127.0.0.1:{port}/", etag=None, last_modified=None)
        )
        started = time.monotonic()
        for _ in range(5):
            await client.fetch_feed(str(server.make_url("/feed")), etag=None, last_modified=None)
        assert time.monotonic() - started < 0.8
        with pytest.raises(FetchError):
            await stalled


SENT = {"bytes": 0}


async def stream_forever(request: web.Request) -> web.StreamResponse:
    """Up to 200 MB of chunked body with no Content-Length."""
    response = web.StreamResponse()
    await response.prepare(request)
    chunk = b"<" * (256 * 1024)
    SENT["bytes"] = 0
    for _ in range(200 * 4):
        await response.write(chunk)
        SENT["bytes"] += len(chunk)
    return response


@pytest.mark.asyncio
async def test_a_200_mb_stream_stops_at_the_cap_with_flat_memory(serve: ServeFactory) -> None:
    server = await serve({"/big": stream_forever})
    before = peak_rss_mib()
    async with Fetcher(limits(max_bytes=5 * MiB)) as client:
        with pytest.raises(FetchError, match="cap"):
            await client.fetch_feed(str(server.make_url("/big")), etag=None, last_modified=None)
    await asyncio.sleep(0.05)
    assert SENT["bytes"] < 50 * MiB
    assert peak_rss_mib() - before < 60


@pytest.mark.asyncio
async def test_a_declared_oversized_body_is_refused_before_reading(serve: ServeFactory) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(200 * MiB)})
        await response.prepare(request)
        await response.write(b"x" * 1024)
        await asyncio.sleep(5)
        return response

    server = await serve({"/huge": huge})
    async with Fetcher(limits(max_bytes=MiB)) as client:
        started = time.monotonic()
        with pytest.raises(FetchError, match="cap"):
            await client.fetch_feed(str(server.make_url("/huge")), etag=None, last_modified=None)
        assert time.monotonic() - started < 1


@pytest.mark.asyncio
async def test_a_lying_content_length_is_an_error(raw_servers: list[RawServer]) -> None:
    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<rss/>")
        await writer.drain()

    raw = RawServer(short)
    raw_servers.append(raw)
    port = await raw.start()
    async with Fetcher(limits()) as client:
        with pytest.raises(FetchError):
            await client.fetch_feed(f"http://127.0.0.1:{port}/", etag=None, last_modified=None)


def gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    zeros = b"\0" * MiB
    return b"".join(compressor.compress(zeros) for _ in range(size // MiB)) + compressor.flush()


@pytest.mark.asyncio
async def test_a_gzip_bomb_stops_at_the_decompressed_cap(serve: ServeFactory) -> None:
    bomb = gzip_bomb(256 * MiB)
    assert len(bomb) < 300 * 1024

    async def bombed(request: web.Request) -> web.Response:
        return web.Response(
            body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"}
        )

    server = await serve({"/bomb": bombed})
    before = peak_rss_mib()
    async with Fetcher(limits(max_bytes=5 * MiB)) as client:
        with pytest.raises(FetchError, match="cap"):
            await client.fetch_feed(str(server.make_url("/bomb")), etag=None, last_modified=None)
    assert peak_rss_mib() - before < 60


# --- file:// -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_file_feeds_are_read_and_unchanged_files_are_not_modified(
    tmp_path: Path, fetcher: Fetcher
) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    first = await fetcher.fetch_feed(path.as_uri(), etag=None, last_modified=None)
    assert (first.status, first.body, first.not_modified) == (200, FEED, False)
    second = await fetcher.fetch_feed(path.as_uri(), etag=None, last_modified=first.last_modified)
    assert (second.status, second.not_modified) == (304, True)
    with pytest.raises(FetchError, match="cannot read"):
        await fetcher.fetch_feed((tmp_path / "missing.xml").as_uri(), etag=None, last_modified=None)


@pytest.mark.asyncio
async def test_oversized_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 2048)
    async with Fetcher(limits(max_bytes=1024)) as client:
        with pytest.raises(FetchError, match="cap"):
            await client.fetch_feed(path.as_uri(), etag=None, last_modified=None)


# --- SSRF guard ----------------------------------------------------------------------------------


def only_127_0_0_1(address: IPAddress) -> bool:
    """Test policy: 127.0.0.1 plays a public host, every other address is internal."""
    return address == ipaddress.IPv4Address("127.0.0.1")


class FixedResolver(AbstractResolver):
    """Answers every name from a table, as a DNS server under an attacker's control would."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.table[host]
        return [
            ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0)
        ]

    async def close(self) -> None:
        return None


@pytest.fixture
async def internal(raw_servers: list[RawServer]) -> tuple[RawServer, int]:
    """An "internal" service on 127.0.0.2 that must never see a connection."""

    async def secret(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET")
        await writer.drain()

    raw = RawServer(secret)
    raw_servers.append(raw)
    return raw, await raw.start("127.0.0.2")


@pytest.mark.asyncio
async def test_an_article_redirecting_to_an_internal_ip_literal_is_refused_at_connect(
    serve: ServeFactory, internal: tuple[RawServer, int]
) -> None:
    raw, port = internal

    async def bounce(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"http://127.0.0.2:{port}/latest/meta-data/"})

    async def article(request: web.Request) -> web.Response:
        return web.Response(text="<p>public article</p>", content_type="text/html")

    server = await serve({"/bounce": bounce, "/article": article})
    async with Fetcher(limits(), address_policy=only_127_0_0_1) as client:
        assert b"public article" in (await client.fetch_article(str(server.make_url("/article")))).body
        with pytest.raises(FetchError, match="non-public"):
            await client.fetch_article(str(server.make_url("/bounce")))
    assert raw.connections == 0


@pytest.mark.asyncio
async def test_a_name_resolving_to_an_internal_address_is_refused_at_connect(
    serve: ServeFactory, internal: tuple[RawServer, int]
) -> None:
    raw, port = internal

    async def article(request: web.Request) -> web.Response:
        return web.Response(text="<p>public</p>", content_type="text/html")

    server = await serve({"/": article})
    assert server.port is not None
    resolver = FixedResolver({"news.example": "127.0.0.1", "rebound.example": "127.0.0.2"})
    async with Fetcher(limits(), address_policy=only_127_0_0_1, resolver=resolver) as client:
        assert (await client.fetch_article(f"http://news.example:{server.port}/")).status == 200
        with pytest.raises(FetchError, match="non-public"):
            await client.fetch_article(f"http://rebound.example:{port}/")
    assert raw.connections == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.2:{port}/",
        "http://2130706434:{port}/",  # 127.0.0.2 as one decimal number
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.2]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[64:ff9b::7f00:2]:{port}/",
        "http://[2002:7f00:2::]:{port}/",
        "file:///etc/passwd",
        "gopher://127.0.0.2:{port}/_GET",
        "ftp://127.0.0.2/",
    ],
)
async def test_internal_targets_are_refused_before_connecting(
    internal: tuple[RawServer, int], template: str
) -> None:
    raw, port = internal
    async with Fetcher(limits(connect_timeout=1.0)) as client:  # the real policy
        with pytest.raises(FetchError):
            await client.fetch_article(template.format(port=port))
    assert raw.connections == 0


@pytest.mark.asyncio
async def test_feeds_may_be_private_unless_the_operator_says_otherwise(
    serve: ServeFactory, internal: tuple[RawServer, int]
) -> None:
    raw, port = internal
    async with Fetcher(limits()) as client:
        assert (
            await client.fetch_feed(f"http://127.0.0.2:{port}/", etag=None, last_modified=None)
        ).body == b"SECRET"
    assert raw.connections == 1
    async with Fetcher(limits(allow_private=False)) as client:
        with pytest.raises(FetchError, match="non-public"):
            await client.fetch_feed(f"http://127.0.0.2:{port}/", etag=None, last_modified=None)
    assert raw.connections == 1


@pytest.mark.asyncio
async def test_garbage_urls_are_fetch_errors(fetcher: Fetcher) -> None:
    for url in ("http://", "http://exa mple.com/", "not a url", "http://[::1/"):
        with pytest.raises(FetchError):
            await fetcher.fetch_feed(url, etag=None, last_modified=None)

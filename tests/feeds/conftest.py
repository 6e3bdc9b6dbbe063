"""Fixtures for feed tests: loopback aiohttp servers and small realistic feeds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

FIXTURES = Path(__file__).parent / "fixtures"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ServeFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFactory]:
    """`await serve({"/path": handler}, host="127.0.0.1")` starts a loopback server; closed at teardown."""
    servers: list[TestServer] = []

    async def start(routes: dict[str, Handler], *, host: str = "127.0.0.1") -> TestServer:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_route("*", path, handler)
        server = TestServer(app, host=host)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def rss(items: str = "", *, channel_extra: str = "", declaration: str = "utf-8") -> str:
    """A small RSS 2.0 document around `items`."""
    return (
        f'<?xml version="1.0" encoding="{declaration}"?>\n'
        '<rss version="2.0"><channel><title>Shafaq</title><link>https://shafaq.example/</link>'
        f"{channel_extra}{items}</channel></rss>"
    )


def rss_item(guid: str = "", title: str = "t", link: str = "", date: str = "", extra: str = "") -> str:
    parts = [f"<title>{title}</title>"]
    if guid:
        parts.append(f"<guid>{guid}</guid>")
    if link:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + extra + "</item>"

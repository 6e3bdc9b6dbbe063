"""The composition root's helpers: settings in, adapters out. Nothing else builds adapters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from service import __version__
from service.feeds.fetch import Fetcher, FetchLimits
from service.settings import (
    DEFAULT_STATE_DIR,
    Config,
)
from service.settings import (
    ConsoleSink as ConsoleSinkConfig,
)
from service.settings import (
    EmailSink as EmailSinkConfig,
)
from service.settings import (
    TelegramSink as TelegramSinkConfig,
)
from service.settings import (
    WebhookSink as WebhookSinkConfig,
)
from service.sinks.base import Sink
from service.sinks.console import ConsoleSink
from service.sinks.smtp import EmailSink
from service.sinks.telegram import TelegramSink
from service.sinks.webhook import WebhookSink
from service.state.embedded import EmbeddedStore
from service.state.protocol import Store

USER_AGENT = f"newsalert/{__version__} (+https://github.com/newsalert/newsalert)"


def is_redis_url(store: str | None) -> bool:
    return bool(store) and str(store).lower().startswith(("redis://", "rediss://", "unix://"))


def build_store(config: Config) -> Store:
    target = config.service.store
    if is_redis_url(target):
        from service.state.redis_store import RedisStore

        return RedisStore(str(target), seen_ttl=config.service.seen_ttl)
    return EmbeddedStore(target or DEFAULT_STATE_DIR, seen_ttl=config.service.seen_ttl)


def describe_store(store: str | None) -> str:
    """The store for humans, with any password in a Redis URL masked."""
    if not is_redis_url(store):
        return f"embedded ({store or DEFAULT_STATE_DIR})"
    parts = urlsplit(str(store))
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:****@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return f"redis ({urlunsplit(parts)})"


def fetch_limits(config: Config) -> FetchLimits:
    service = config.service
    return FetchLimits(
        max_bytes=service.max_feed_bytes,
        connect_timeout=service.connect_timeout,
        total_timeout=service.fetch_timeout,
        concurrency=service.concurrency,
        per_host=service.per_host_concurrency,
    )


def build_fetcher(config: Config) -> Fetcher:
    return Fetcher(fetch_limits(config), user_agent=USER_AGENT)


SinkBuilder = Callable[[str, Any, aiohttp.ClientSession], Sink]


def _telegram(name: str, c: TelegramSinkConfig, session: aiohttp.ClientSession) -> Sink:
    return TelegramSink(
        name,
        session,
        token=c.bot_token.get_secret_value(),
        chat_id=c.chat_id,
        api_url=c.api_url,
        message_thread_id=c.message_thread_id,
        disable_preview=c.disable_web_page_preview,
        disable_notification=c.disable_notification,
    )


def _webhook(name: str, c: WebhookSinkConfig, session: aiohttp.ClientSession) -> Sink:
    secret = c.secret.get_secret_value() if c.secret else None
    return WebhookSink(name, session, url=c.url, format=c.format, secret=secret, timeout=c.timeout)


def _email(name: str, c: EmailSinkConfig, session: aiohttp.ClientSession) -> Sink:
    return EmailSink(
        name,
        host=c.host,
        port=c.port,
        tls=c.tls,
        sender=c.sender,
        to=list(c.to),
        username=c.username,
        password=c.password.get_secret_value() if c.password else None,
        timeout=c.timeout,
    )


def _console(name: str, c: ConsoleSinkConfig, session: aiohttp.ClientSession) -> Sink:
    return ConsoleSink(name)


SINK_BUILDERS: Mapping[str, SinkBuilder] = {
    "telegram": _telegram,
    "webhook": _webhook,
    "email": _email,
    "console": _console,
}


def build_sinks(config: Config, session: aiohttp.ClientSession) -> dict[str, Sink]:
    return {name: SINK_BUILDERS[c.type](name, c, session) for name, c in config.sinks.items()}


def sink_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})

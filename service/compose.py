"""The composition root's helpers: settings in, adapters out. Nothing else builds adapters."""

from __future__ import annotations

import os
import secrets
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from service import __version__
from service.errors import ConfigError, Problem
from service.feeds.fetch import Fetcher, FetchLimits
from service.settings import (
    DEFAULT_STATE_DIR,
    Config,
)
from service.settings import (
    AppriseSink as AppriseSinkConfig,
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
from service.sinks.base import Sink, SinkConfigError
from service.sinks.console import ConsoleSink
from service.sinks.smtp import EmailSink
from service.sinks.telegram import TelegramSink
from service.sinks.webhook import WebhookSink
from service.state.embedded import EmbeddedStore
from service.state.protocol import Store

USER_AGENT = f"newsalert/{__version__} (+https://github.com/newsalert/newsalert)"


def replica_id() -> str:
    """Who holds leases and delivery claims: host, process and a random part.

    Every process is its own owner (a restarted one too), so two processes sharing a store, a
    `run --once` beside a running service included, never take each other's claims for their own.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def is_redis_url(store: str | None) -> bool:
    return bool(store) and str(store).lower().startswith(("redis://", "rediss://", "unix://"))


def build_store(config: Config) -> Store:
    target = config.service.store
    if is_redis_url(target):
        from service.state.redis_store import RedisStore

        return RedisStore(str(target), seen_ttl=config.service.seen_ttl, prefix=config.service.key_prefix)
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
        preview_size=c.link_preview_size,
        preview_above_text=c.link_preview_above_text,
        disable_notification=c.disable_notification,
        template=c.template,
    )


def _webhook(name: str, c: WebhookSinkConfig, session: aiohttp.ClientSession) -> Sink:
    secret = c.secret.get_secret_value() if c.secret else None
    return WebhookSink(
        name,
        session,
        url=c.url,
        format=c.format,
        secret=secret,
        timeout=c.timeout,
        concurrency=c.concurrency,
        template=c.template,
    )


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
        tls_context=_tls_context(name, c.ca_file),
        digest=c.digest,
        subject_template=c.subject_template,
        text_template=c.text_template,
        html_template=c.html_template,
    )


def _tls_context(name: str, ca_file: str | None) -> ssl.SSLContext | None:
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise SinkConfigError(f"sinks.{name}.ca_file", f"cannot load the CA file: {exc}") from exc


def _console(name: str, c: ConsoleSinkConfig, session: aiohttp.ClientSession) -> Sink:
    return ConsoleSink(name)


def _apprise(name: str, c: AppriseSinkConfig, session: aiohttp.ClientSession) -> Sink:
    try:
        from service.sinks.apprise_sink import AppriseSink
    except ImportError as exc:
        raise SinkConfigError(
            f"sinks.{name}.type", "Apprise is not installed: pip install 'newsalert[apprise]'"
        ) from exc
    return AppriseSink(name, urls=[u.get_secret_value() for u in c.urls], template=c.template)


SINK_BUILDERS: Mapping[str, SinkBuilder] = {
    "telegram": _telegram,
    "webhook": _webhook,
    "email": _email,
    "console": _console,
    "apprise": _apprise,
}


def build_sinks(config: Config, session: aiohttp.ClientSession) -> dict[str, Sink]:
    """Every configured sink; a sink that cannot be built (a bad template, CA file or Apprise URL) is a
    config problem, reported with the others."""
    sinks: dict[str, Sink] = {}
    problems: list[Problem] = []
    for name, c in config.sinks.items():
        try:
            sinks[name] = SINK_BUILDERS[c.type](name, c, session)
        except SinkConfigError as exc:
            problems.append(Problem(exc.path, exc.reason))
    if problems:
        raise ConfigError(config.source, problems)
    return sinks


def sink_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})

"""The long tail of services (Matrix, ntfy, Pushover, Teams, ...) through Apprise URLs.

Apprise's `notify()` is synchronous, so it runs in a worker thread. It answers only success or failure:
it cannot tell a transient failure from a permanent one, so every failure is a RetryLater and an alert
Apprise keeps refusing is parked only when the outbox's attempts run out. Each URL is its own Apprise
object; when some URLs took an alert and others failed, only the failed ones are retried (kept in
memory per alert: a restart before the retry sends to every URL again).

Apprise URLs carry credentials, so neither errors nor logs built here contain them: a URL is named by
its position and scheme. A send abandoned by the outbox's timeout keeps running in its thread until
Apprise's own timeouts end it.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, SecretStr

from service.errors import OptionError, RetryLater
from service.models import Alert
from service.options import SinkOptions
from service.registry import SinkContext, SinkType
from service.sinks.memo import Memo
from service.sinks.render import email_subject, render_text
from service.sinks.templates import compile_template


class AppriseSink:
    concurrency = 1

    def __init__(self, name: str, *, urls: Sequence[str], template: str | None = None) -> None:
        if not urls:
            raise OptionError("urls", "give at least one Apprise URL")
        self.name = name
        self._targets = [_target(name, i, url) for i, url in enumerate(urls)]
        self._labels = [f"#{i} {url.partition('://')[0]}://" for i, url in enumerate(urls)]
        self._template = compile_template(template, html=False, name="template")
        self._done: Memo[str, frozenset[int]] = Memo()

    async def send(self, alert: Alert) -> None:
        title = email_subject(alert)
        body = self._template.render(alert) if self._template else render_text(alert)
        done = set(self._done.get(alert.id) or ())
        failed = []
        for index, target in enumerate(self._targets):
            if index in done:
                continue
            if await asyncio.to_thread(_notify, target, title, body):
                done.add(index)
            else:
                failed.append(self._labels[index])
        if failed:
            self._done.put(alert.id, frozenset(done))
            raise RetryLater(
                f"Apprise could not notify {', '.join(failed)} (it does not say whether to retry)"
            )
        self._done.drop(alert.id)

    async def close(self) -> None:
        return None


def _target(name: str, index: int, url: str) -> Any:
    import apprise  # optional: pip install 'newsalert[apprise]'

    target = apprise.Apprise()
    # Apprise imports its plugins on first use; one of them imports the deprecated `imghdr`.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        added = target.add(url)
    if not added:
        scheme = url.partition("://")[0] if "://" in url else "?"
        raise OptionError(f"urls[{index}]", f"Apprise does not understand this {scheme}:// URL")
    return target


def _notify(target: Any, title: str, body: str) -> bool:
    import apprise

    return bool(target.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT))


class AppriseOptions(SinkOptions):
    type: Literal["apprise"]
    urls: list[SecretStr] = Field(min_length=1)
    template: str | None = None


def _build(name: str, o: AppriseOptions, context: SinkContext) -> AppriseSink:
    try:
        import apprise  # noqa: F401  (only to say plainly that it is missing)
    except ImportError as exc:
        raise OptionError("type", "Apprise is not installed: pip install 'newsalert[apprise]'") from exc
    return AppriseSink(name, urls=[u.get_secret_value() for u in o.urls], template=o.template)


def _describe(o: AppriseOptions) -> str:
    # Apprise URLs carry their credentials: only the schemes are shown.
    schemes = ", ".join(sorted({u.get_secret_value().partition("://")[0] + "://" for u in o.urls}))
    return f"{len(o.urls)} URL(s): {schemes}"


SINK = SinkType("apprise", AppriseOptions, _build, _describe)

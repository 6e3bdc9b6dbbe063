"""Webhooks: a generic signed JSON body (Standard Webhooks), or Slack's and Discord's incoming formats.

- Signing (Standard Webhooks): `webhook-id` is the alert id, the same on every retry, so a receiver can
  deduplicate on it; `webhook-timestamp` is the attempt's time; `webhook-signature` holds one `v1,`
  signature per secret. Several space-separated `whsec_` secrets sign with each, so a receiver can rotate
  its secret without downtime. The signed bytes are exactly the bytes sent.
- Redirects are not followed: 3xx is a permanent error asking for the sink's url to be updated (the
  Standard Webhooks rule, and a redirect must not carry a signed alert somewhere unconfigured).
- 410 (and for Slack and Discord also 403/404: an archived channel, a deleted webhook) disables the
  sink: that alert and every later one are parked without another request until the config is reloaded
  (Discord asks clients to stop calling a webhook that answered 404).
- 429 honours Discord's JSON `retry_after` (float seconds) and `Retry-After` (seconds or an HTTP date).
- A timeout or a connection dropped after the request went out may have delivered the alert: logged
  `delivery_ambiguous` and retried with the same `webhook-id`.
- The URL can itself be a secret (Slack and Discord put a token in it): errors name only its host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import structlog
from pydantic import Field, SecretStr, field_validator

from service.errors import OptionError, PermanentDeliveryError, RetryLater
from service.logs import Logger
from service.models import Alert
from service.options import Duration, SinkOptions
from service.redact import origin_only
from service.registry import SinkContext, SinkType
from service.sinks.base import MAX_RETRY_AFTER, log_ambiguous
from service.sinks.http import AMBIGUOUS_HTTP_ERRORS, classify_http, parse_retry_after_seconds
from service.sinks.pacing import Pacer, Rate
from service.sinks.render import DISCORD_CONTENT_LIMIT, clip, discord_body, slack_body
from service.sinks.templates import compile_template

WebhookFormat = Literal["json", "slack", "discord"]

# Slack: "1 per second, short bursts allowed"; Discord: 5 requests per 2 s per webhook, 30 a minute per
# channel. Generic receivers set their own limits and say so with 429.
_RATES: dict[str, tuple[Rate, Rate | None]] = {
    "slack": (Rate(3, 3.0), None),
    "discord": (Rate(5, 2.0), Rate(30, 60.0)),
}


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the key from a `whsec_` secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_all(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one signature per active secret, space-separated."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def decode_secret(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        # Not base64: use the bytes as given, as several senders do for plain shared secrets.
        return raw.encode()


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return bool(text)


class WebhookSink:
    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        url: str,
        format: WebhookFormat = "json",
        secret: str | None = None,
        timeout: float = 10.0,
        concurrency: int = 1,
        template: str | None = None,
        clock: Callable[[], float] = time.time,
        pacer: Pacer | None = None,
        log: Logger | None = None,
    ) -> None:
        if template and format == "json":
            raise OptionError("template", "the json format's body is fixed; use slack or discord")
        self.name = name
        self._session = session
        self._url = url
        self._format = format
        self._secrets = secret.split() if secret else []
        for index, one in enumerate(self._secrets):
            if one.startswith("whsec_") and not _is_base64(one.removeprefix("whsec_")):
                # Never echo the secret itself.
                raise OptionError("secret", f"secret #{index + 1} is whsec_ but not base64")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.concurrency = max(1, concurrency)
        self._template = compile_template(template, html=False, name="template")
        self._clock = clock
        self._pacer = pacer or _pacer_for(format)
        self._disabled: str | None = None
        self._log: Logger = log or structlog.get_logger()

    def body(self, alert: Alert) -> dict[str, Any]:
        if self._format == "slack":
            body = slack_body(alert)
            if self._template:
                body["text"] = self._template.render(alert)
            return body
        if self._format == "discord":
            body = discord_body(alert)
            if self._template:
                body["content"] = clip(self._template.render(alert), DISCORD_CONTENT_LIMIT)
            return body
        return alert.to_json_body()

    def headers(self, alert: Alert, payload: bytes) -> dict[str, str]:
        # The alert id, signed or not: a receiver deduplicates on it across retries and copies.
        headers = {"content-type": "application/json", "webhook-id": alert.id}
        if self._secrets:
            stamp = int(self._clock())
            headers |= {
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign_all(self._secrets, alert.id, stamp, payload),
            }
        return headers

    async def send(self, alert: Alert) -> None:
        if self._disabled:
            raise PermanentDeliveryError(f"not attempted: the endpoint was disabled ({self._disabled})")
        payload = json.dumps(self.body(alert), ensure_ascii=False).encode()
        if self._pacer:
            await self._pacer.wait_turn(self.name)
        try:
            async with self._session.post(
                self._url,
                data=payload,
                headers=self.headers(alert, payload),
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                if 200 <= resp.status < 300:
                    return
                text = await resp.text(errors="replace")
                self._raise_for(resp.status, resp.headers, text)
        except (RetryLater, PermanentDeliveryError):
            raise
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise RetryLater(self._scrub(f"{type(exc).__name__}: {exc}")) from exc
        except AMBIGUOUS_HTTP_ERRORS as exc:
            error = self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            log_ambiguous(self._log, self.name, alert.id, error)
            raise RetryLater(
                f"no answer ({error}); the receiver may have it: the same webhook-id is resent"
            ) from exc
        except aiohttp.ClientError as exc:
            raise RetryLater(self._scrub(f"{type(exc).__name__}: {exc}")) from exc

    def _raise_for(self, status: int, headers: Any, text: str) -> None:
        if 300 <= status < 400:
            target = origin_only(str(headers.get("Location", ""))) if headers.get("Location") else "elsewhere"
            self._log.error("webhook_redirected", sink=self.name, status=status, location=target)
            raise PermanentDeliveryError(
                f"HTTP {status}: redirected to {target}; redirects are not followed, update the sink's url"
            )
        if status == 410 or (self._format != "json" and status in (403, 404)):
            self._disabled = f"HTTP {status}: {' '.join(text.split())[:100]}"
            self._log.error("sink_disabled", sink=self.name, error=self._disabled)
        if status == 429 and self._pacer:
            delay = _retry_after(headers, text) or 1.0
            self._pacer.pause(self.name, delay)
        classify_http(status, text, _retry_after(headers, text))

    def _scrub(self, text: str) -> str:
        parts = urlsplit(self._url)
        if parts.path not in ("", "/"):
            text = text.replace(parts.path, "/…")
        return text.replace(self._url, origin_only(self._url))

    async def close(self) -> None:
        return None


def _retry_after(headers: Any, text: str) -> float | None:
    """Discord's JSON `retry_after` (float seconds, finer than its header), else `Retry-After`."""
    try:
        answer = json.loads(text) if text.lstrip().startswith("{") else None
    except ValueError:
        answer = None
    value = answer.get("retry_after") if isinstance(answer, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return min(float(value), MAX_RETRY_AFTER)
    return parse_retry_after_seconds(headers.get("Retry-After"))


def _pacer_for(format: str) -> Pacer | None:
    if format not in _RATES:
        return None
    per_key, overall = _RATES[format]
    return Pacer(overall=overall, per_key=per_key, per_group=None, max_wait=3.0)


class WebhookOptions(SinkOptions):
    type: Literal["webhook"]
    url: str
    format: WebhookFormat = "json"
    secret: SecretStr | None = None
    timeout: Duration = 10.0
    concurrency: int = Field(1, ge=1, le=64)
    template: str | None = None

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        if not re.match(r"^https?://", url, re.IGNORECASE):
            raise ValueError("must start with http:// or https://")
        return url


def _build(name: str, o: WebhookOptions, context: SinkContext) -> WebhookSink:
    return WebhookSink(
        name,
        context.session,
        url=o.url,
        format=o.format,
        secret=o.secret.get_secret_value() if o.secret else None,
        timeout=o.timeout,
        concurrency=o.concurrency,
        template=o.template,
        log=context.log,
    )


def _describe(o: WebhookOptions) -> str:
    # Slack and Discord webhook URLs are bearer secrets in their path: the host only.
    return f"{o.format}, {'signed' if o.secret else 'unsigned'}, {origin_only(o.url)}"


SINK = SinkType("webhook", WebhookOptions, _build, _describe)

"""Webhooks: a generic signed JSON body (Standard Webhooks), or Slack's and Discord's incoming formats."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp

from service.errors import PermanentDeliveryError, RetryLater
from service.models import Alert
from service.sinks.base import classify_http, parse_retry_after_seconds
from service.sinks.render import discord_body, slack_body


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the key from a `whsec_` secret."""
    key = decode_secret(secret)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def decode_secret(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        # Not base64: use the bytes as given, as several senders do for plain shared secrets.
        return raw.encode()


class WebhookSink:
    kind = "webhook"

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        url: str,
        format: str = "json",
        secret: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._session = session
        self._url = url
        self._format = format
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def body(self, alert: Alert) -> dict[str, Any]:
        if self._format == "slack":
            return slack_body(alert)
        if self._format == "discord":
            return discord_body(alert)
        return alert.to_json_body()

    async def send(self, alert: Alert) -> None:
        payload = json.dumps(self.body(alert), ensure_ascii=False).encode()
        headers = {"content-type": "application/json"}
        if self._secret:
            stamp = int(time.time())
            headers |= {
                "webhook-id": alert.id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(self._secret, alert.id, stamp, payload),
            }
        try:
            async with self._session.post(
                self._url, data=payload, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as resp:
                if 200 <= resp.status < 300:
                    return
                text = await resp.text(errors="replace")
                classify_http(resp.status, text, parse_retry_after_seconds(resp.headers.get("Retry-After")))
        except (RetryLater, PermanentDeliveryError):
            raise
        except TimeoutError as exc:
            raise RetryLater("timed out (the receiver may have it: the same webhook-id is resent)") from exc
        except aiohttp.ClientError as exc:
            raise RetryLater(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        return None

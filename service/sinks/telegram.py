"""Telegram through the Bot API's sendMessage.

The token sits in the request path, so no error text built here ever contains the URL: messages are
made from the status and the API's own `description`, and client errors are scrubbed of the token.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from service.errors import PermanentDeliveryError, RetryLater
from service.models import Alert
from service.sinks.render import render_plain_telegram, render_telegram

_PARSE_ERROR = "can't parse entities"
_GONE = ("chat not found", "bot was blocked", "bot was kicked", "user is deactivated", "not enough rights")


class TelegramSink:
    kind = "telegram"

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        token: str,
        chat_id: str | int,
        api_url: str = "https://api.telegram.org",
        message_thread_id: int | None = None,
        disable_preview: bool = False,
        disable_notification: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self._session = session
        self._token = token
        self.chat_id: str | int = chat_id
        self._endpoint = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self._thread = message_thread_id
        self._preview_off = disable_preview
        self._silent = disable_notification
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def payload(self, text: str, *, html: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "chat_id": self.chat_id,
            "text": text,
            "link_preview_options": {"is_disabled": self._preview_off},
        }
        if html:
            body["parse_mode"] = "HTML"
        if self._thread is not None:
            body["message_thread_id"] = self._thread
        if self._silent:
            body["disable_notification"] = True
        return body

    async def send(self, alert: Alert) -> None:
        try:
            await self._send(self.payload(render_telegram(alert), html=True))
        except _HtmlRefused:
            # Our escaping should make this impossible; if the API still refuses, plain text gets through.
            await self._send(self.payload(render_plain_telegram(alert), html=False))

    async def _send(self, body: dict[str, Any], *, migrated: bool = False) -> None:
        status, answer = await self._post(body)
        if answer.get("ok"):
            return
        params = answer.get("parameters") or {}
        description = str(answer.get("description", ""))
        if "migrate_to_chat_id" in params and not migrated:
            self.chat_id = params["migrate_to_chat_id"]
            await self._send({**body, "chat_id": self.chat_id}, migrated=True)
            return
        self._raise_for(status, description, params)

    def _raise_for(self, status: int, description: str, params: dict[str, Any]) -> None:
        text = f"Telegram {status}: {description}"
        if status == 429:
            raise RetryLater(text, float(params.get("retry_after", 5)))
        if status >= 500:
            raise RetryLater(text)
        if status == 400 and _PARSE_ERROR in description.lower():
            raise _HtmlRefused(text)
        if status in (401, 403, 404) or any(g in description.lower() for g in _GONE):
            raise PermanentDeliveryError(text)
        raise PermanentDeliveryError(text)

    async def _post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            async with self._session.post(
                self._endpoint, data=data, headers={"content-type": "application/json"}, timeout=self._timeout
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise RetryLater("Telegram timed out (the message may have been sent)") from exc
        except aiohttp.ClientError as exc:
            raise RetryLater(self._scrub(f"{type(exc).__name__}: {exc}")) from exc
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {"ok": False, "description": raw[:200].decode("utf-8", "replace")}
        return status, answer if isinstance(answer, dict) else {"ok": False}

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    async def close(self) -> None:
        return None


class _HtmlRefused(PermanentDeliveryError):
    """The Bot API could not parse our HTML."""

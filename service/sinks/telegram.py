"""Telegram through the Bot API's sendMessage (and editMessageText for a story's later outlets).

- Pacing: every sink sending through one bot token shares one `TelegramBot` in the runtime (one that
  outlives config reloads), and so one `Pacer` (about 30 messages a second per bot, about 1 a second per chat with a short burst, at most 20
  a minute in a group or channel). A 429 pauses *that chat* for its `retry_after`; other chats carry on
  (python-telegram-bot pauses every chat; a 429 caused by the bot-wide limit then reaches each busy chat
  on its own, and each backs off). A 429 raises `Throttled`: the message was not sent, the alert keeps
  its place in the queue and no attempt is counted, so flood waits never park it.
- Long messages are split (see `split.py`); parts go in order, one request each. Progress is kept per
  alert in the sink: a retry after part k failed starts again at part k. That memory is the process's
  only, so a crash, restart or config reload between two parts sends the parts already accepted once
  more (at most one extra copy of each).
- 403 and "chat not found" (and closed or missing topics) park the alert with an error log naming the
  chat; later alerts to that destination are parked without a request for `unreachable_for` seconds.
- 401/404 mean the token (or `api_url`) is refused: every chat of that bot waits, nothing is parked
  (the outbox retries, so the backlog goes out once the token is fixed).
- A group that became a supergroup (`migrate_to_chat_id`) is followed at once and remembered for every
  sink of the bot; the log asks the operator to update `chat_id`.
- HTML the API cannot parse is resent once as plain text (a 400 means nothing was shown, so no copy).
- The token sits in the request path, so no error or log text built here contains the URL: messages are
  made from the status and the API's own `description`, and client errors are scrubbed of the token.
- A timeout or a connection dropped after the request went out may still have delivered the message;
  it is logged `delivery_ambiguous` and retried, which can show it twice (the Bot API has no
  idempotency key).
- `send` returns a receipt (JSON: the chat and message id of each part). `edit` re-renders the alert
  (with its new "Also reported by") and edits each message of the receipt with editMessageText; edits
  are idempotent, so a retry simply repeats them. "message is not modified" counts as done. A message
  the bot can no longer edit (deleted, or older than 48 hours), or an alert that would now take a
  different number of messages, parks the edit: nothing new is ever sent for it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, NoReturn

import aiohttp
import structlog
from pydantic import SecretStr

from service.errors import PermanentDeliveryError, RetryLater
from service.logs import Logger
from service.models import Alert
from service.options import SinkOptions
from service.registry import SinkContext, SinkType
from service.sinks.base import MAX_RETRY_AFTER, Throttled, log_ambiguous
from service.sinks.http import AMBIGUOUS_HTTP_ERRORS
from service.sinks.memo import Memo
from service.sinks.pacing import Pacer
from service.sinks.render import TELEGRAM_LIMIT, render_telegram
from service.sinks.split import split_message, telegram_markup_problem, to_plain
from service.sinks.templates import compile_template

_PARSE_ERROR = "can't parse entities"
_UNREACHABLE = (
    "chat not found",
    "bot was blocked",
    "bot was kicked",
    "user is deactivated",
    "chat is deactivated",
    "group chat was deactivated",
    "not enough rights",
    "have no rights",
    "need administrator rights",
    "chat_write_forbidden",
    "bot is not a member",
    "bot can't initiate",
    "message thread not found",
    "topic_closed",
    "topic_deleted",
)
_CONFIG_MISTAKES = ("chat not found", "message thread not found", "topic_deleted")
_NOT_MODIFIED = "message is not modified"
TOKEN_REFUSED_PAUSE = 300.0
DEFAULT_RETRY_AFTER = 5.0

PreviewSize = Literal["auto", "small", "large"]


class TelegramBot:
    """What the sinks of one bot token share in a process: pacing, moved chats, unreachable chats."""

    def __init__(self, pacer: Pacer | None = None, *, unreachable_for: float = 600.0) -> None:
        self.pacer = pacer or Pacer()
        self.moved: dict[str, int | str] = {}
        self.unreachable_for = unreachable_for
        self._unreachable: dict[str, tuple[float, str]] = {}

    def mark_unreachable(self, destination: str, reason: str) -> None:
        self._unreachable[destination] = (self.pacer.clock() + self.unreachable_for, reason)

    def unreachable(self, destination: str) -> str | None:
        """Why this destination refused us lately, or None when it may be tried."""
        entry = self._unreachable.get(destination)
        if entry is None:
            return None
        until, reason = entry
        if self.pacer.clock() >= until:
            del self._unreachable[destination]
            return None
        return reason


class TelegramSink:
    concurrency = 1  # messages to one chat keep their order

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
        preview_size: PreviewSize = "auto",
        preview_above_text: bool = False,
        disable_notification: bool = False,
        template: str | None = None,
        timeout: float = 30.0,
        bot: TelegramBot | None = None,
        limit: int = TELEGRAM_LIMIT,
        log: Logger | None = None,
    ) -> None:
        self.name = name
        self._session = session
        self._token = token
        self._configured_chat = str(chat_id)
        self._api = f"{api_url.rstrip('/')}/bot{token}"
        self._bot = bot or TelegramBot()
        self._log: Logger = log or structlog.get_logger()
        self.chat_id: str | int = self._bot.moved.get(self._configured_chat, chat_id)
        self._thread = message_thread_id
        self._preview = _preview_options(disable_preview, preview_size, preview_above_text)
        self._silent = disable_notification
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = limit
        self._template = compile_template(template, html=True, name="template", check=telegram_markup_problem)
        # Per alert, the (chat, message id) of each part sent so far (None when the API gave no id).
        self._progress: Memo[str, tuple[tuple[int | str, int] | None, ...]] = Memo()

    def payload(self, text: str, *, html: bool) -> dict[str, Any]:
        body = {"chat_id": self.chat_id, **self._content(text, html=html)}
        if self._thread is not None:
            body["message_thread_id"] = self._thread
        if self._silent:
            body["disable_notification"] = True
        return body

    def render_parts(self, alert: Alert) -> list[str]:
        """The message as HTML parts, each within the Bot API's limits."""
        text = self._template.render(alert) if self._template else render_telegram(alert)
        parts = split_message(text, limit=self._limit)
        if not parts:
            raise PermanentDeliveryError("the template rendered an empty message")
        return parts

    async def send(self, alert: Alert) -> str | None:
        """Send the alert; the receipt names every message it took (None if the API gave no ids)."""
        self._check_reachable()
        parts = self.render_parts(alert)
        sent = self._progress.get(alert.id) or ()
        for index in range(min(len(sent), len(parts)), len(parts)):
            sent = (*sent, await self._send_part(alert, parts[index], index, len(parts)))
            self._progress.put(alert.id, sent)
        self._progress.drop(alert.id)
        messages = [m for m in sent if m is not None]
        if len(messages) != len(sent):
            return None
        return json.dumps({"messages": [list(m) for m in messages]}, separators=(",", ":"))

    async def edit(self, alert: Alert, receipt: str) -> None:
        """Edit the messages a send left (its receipt) to show the alert as it stands now."""
        self._check_reachable()
        messages = _read_receipt(receipt)
        parts = self.render_parts(alert)
        if len(parts) != len(messages):
            raise PermanentDeliveryError(
                f"not edited: the alert now takes {len(parts)} messages where {len(messages)} were sent"
            )
        for (chat, message_id), part in zip(messages, parts, strict=True):
            target = {"chat_id": chat, "message_id": message_id}
            try:
                await self._edit(alert, {**target, **self._content(part, html=True)})
            except _HtmlRefused as exc:
                self._log.warning("telegram_html_refused", sink=self.name, alert=alert.id, error=str(exc))
                plain = to_plain(part, limit=self._limit)
                await self._edit(alert, {**target, **self._content(plain, html=False)})

    def _content(self, text: str, *, html: bool) -> dict[str, Any]:
        """What sendMessage and editMessageText share: the text and how it is shown."""
        body: dict[str, Any] = {"text": text, "link_preview_options": self._preview}
        if html:
            body["parse_mode"] = "HTML"
        return body

    async def _edit(self, alert: Alert, body: dict[str, Any]) -> None:
        chat = str(body["chat_id"])
        await self._bot.pacer.wait_turn(chat)
        status, answer = await self._post(alert, "editMessageText", body)
        if answer.get("ok"):
            return
        params, description = self._refusal(answer)
        if status == 400 and _NOT_MODIFIED in description.lower():
            return  # it already reads so (an edit repeated after a lost answer)
        self._raise_for(status, description, params, chat)

    def _check_reachable(self) -> None:
        reason = self._bot.unreachable(self._destination())
        if reason is not None:
            raise PermanentDeliveryError(f"not attempted: this chat refused us recently ({reason})")

    async def _send_part(
        self, alert: Alert, part: str, index: int, total: int
    ) -> tuple[int | str, int] | None:
        try:
            sent = await self._send(alert, self.payload(part, html=True))
        except _HtmlRefused as exc:
            # Our escaping should make this impossible; if the API still refuses, plain text gets through.
            self._log.warning(
                "telegram_html_refused", sink=self.name, alert=alert.id, part=index, error=str(exc)
            )
            sent = await self._send(alert, self.payload(to_plain(part, limit=self._limit), html=False))
        if total > 1:
            self._log.debug("telegram_part_sent", sink=self.name, alert=alert.id, part=index + 1, parts=total)
        return sent

    async def _send(
        self, alert: Alert, body: dict[str, Any], *, migrated: bool = False
    ) -> tuple[int | str, int] | None:
        """Send one message; its (chat, message id) when the API said."""
        chat = str(body["chat_id"])
        await self._bot.pacer.wait_turn(chat)
        status, answer = await self._post(alert, "sendMessage", body)
        if answer.get("ok"):
            return _sent_message(answer.get("result"), body["chat_id"])
        params, description = self._refusal(answer)
        if "migrate_to_chat_id" in params and not migrated:
            self._follow(params["migrate_to_chat_id"])
            return await self._send(alert, {**body, "chat_id": self.chat_id}, migrated=True)
        self._raise_for(status, description, params, chat)

    def _refusal(self, answer: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The `parameters` (retry_after, migrate_to_chat_id) and scrubbed description of a refusal."""
        params = answer.get("parameters")
        return (params if isinstance(params, dict) else {}), self._scrub(str(answer.get("description", "")))

    def _follow(self, new_chat: int | str) -> None:
        self._log.warning(
            "telegram_chat_migrated",
            sink=self.name,
            chat=str(self.chat_id),
            new_chat=str(new_chat),
            hint="the group became a supergroup: set chat_id to the new id in the config",
        )
        self._bot.moved[self._configured_chat] = new_chat
        self.chat_id = new_chat

    def _raise_for(self, status: int, description: str, params: dict[str, Any], chat: str) -> NoReturn:
        text = f"Telegram {status}: {description}"
        lowered = description.lower()
        if status == 429:
            # Not sent, and not a failure of the alert: it keeps its place and is never parked for it.
            delay = _seconds(params.get("retry_after"), DEFAULT_RETRY_AFTER)
            self._bot.pacer.pause(chat, delay)
            raise Throttled(text, delay)
        if status in (401, 404):
            self._bot.pacer.halt(TOKEN_REFUSED_PAUSE)
            self._log.error(
                "telegram_token_refused", sink=self.name, error=text, hint="check bot_token and api_url"
            )
            raise RetryLater(text, TOKEN_REFUSED_PAUSE)
        if status >= 500 or status < 300 or "restart" in lowered:
            raise RetryLater(text, _seconds(params.get("retry_after"), 0.0) or None)
        if status == 400 and _PARSE_ERROR in lowered:
            raise _HtmlRefused(text)
        if status == 403 or any(mark in lowered for mark in _UNREACHABLE):
            self._bot.mark_unreachable(self._destination(), text)
            cause = "config" if any(mark in lowered for mark in _CONFIG_MISTAKES) else "access"
            self._log.error(
                "telegram_destination_unreachable", sink=self.name, chat=chat, cause=cause, error=text
            )
        raise PermanentDeliveryError(text)

    async def _post(self, alert: Alert, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            async with self._session.post(
                f"{self._api}/{method}",
                data=data,
                headers={"content-type": "application/json"},
                timeout=self._timeout,
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectorError as exc:  # never reached the API: nothing was sent
            raise RetryLater(self._scrub(f"Telegram unreachable: {type(exc).__name__}: {exc}")) from exc
        except AMBIGUOUS_HTTP_ERRORS as exc:
            error = self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            log_ambiguous(self._log, self.name, alert.id, error)
            raise RetryLater(f"Telegram gave no answer ({error}); the message may have been sent") from exc
        except aiohttp.ClientError as exc:
            raise RetryLater(self._scrub(f"{type(exc).__name__}: {exc}")) from exc
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {"ok": False, "description": raw[:200].decode("utf-8", "replace")}
        return status, answer if isinstance(answer, dict) else {"ok": False}

    def _destination(self) -> str:
        return f"{self.chat_id}#{self._thread}" if self._thread is not None else str(self.chat_id)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    async def close(self) -> None:
        return None


class _HtmlRefused(PermanentDeliveryError):
    """The Bot API could not parse our HTML."""


def _sent_message(result: Any, chat: int | str) -> tuple[int | str, int] | None:
    """(chat as addressed, message id) from sendMessage's result, the Message sent."""
    if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
        return None
    return chat, result["message_id"]


def _read_receipt(receipt: str) -> list[tuple[int | str, int]]:
    try:
        record = json.loads(receipt)
        messages = [(chat, int(message_id)) for chat, message_id in record["messages"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise PermanentDeliveryError(f"not edited: unreadable receipt ({type(exc).__name__})") from None
    if not messages:
        raise PermanentDeliveryError("not edited: the receipt names no message")
    return messages


def _preview_options(disabled: bool, size: PreviewSize, above: bool) -> dict[str, Any]:
    """`link_preview_options` (Bot API 7.0; `disable_web_page_preview` is deprecated)."""
    if disabled:
        return {"is_disabled": True}
    options: dict[str, Any] = {"is_disabled": False}
    if size == "small":
        options["prefer_small_media"] = True
    elif size == "large":
        options["prefer_large_media"] = True
    if above:
        options["show_above_text"] = True
    return options


def _seconds(value: Any, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return min(MAX_RETRY_AFTER, seconds) if seconds >= 0 else default


class TelegramOptions(SinkOptions):
    type: Literal["telegram"]
    bot_token: SecretStr
    chat_id: str | int
    api_url: str = "https://api.telegram.org"
    message_thread_id: int | None = None
    disable_web_page_preview: bool = False
    link_preview_size: PreviewSize = "auto"
    link_preview_above_text: bool = False
    disable_notification: bool = False
    template: str | None = None


def _build(name: str, o: TelegramOptions, context: SinkContext) -> TelegramSink:
    token = o.bot_token.get_secret_value()
    # Keyed by a hash: the token is not kept twice. Shared per runtime, so a reload keeps the pacing.
    key = "telegram-bot:" + hashlib.sha256(f"{o.api_url}\0{token}".encode()).hexdigest()
    return TelegramSink(
        name,
        context.session,
        token=token,
        chat_id=o.chat_id,
        api_url=o.api_url,
        message_thread_id=o.message_thread_id,
        disable_preview=o.disable_web_page_preview,
        preview_size=o.link_preview_size,
        preview_above_text=o.link_preview_above_text,
        disable_notification=o.disable_notification,
        template=o.template,
        bot=context.shared.get(key, TelegramBot),
        log=context.log,
    )


def _describe(o: TelegramOptions) -> str:
    thread = f", topic {o.message_thread_id}" if o.message_thread_id else ""
    template = ", own template" if o.template else ""
    return f"chat {o.chat_id}{thread} via {o.api_url} (token set{template})"


SINK = SinkType("telegram", TelegramOptions, _build, _describe)

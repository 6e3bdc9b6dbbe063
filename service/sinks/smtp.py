"""Email through aiosmtplib: one message per alert (or one per digest), text and HTML parts.

- `tls`: "starttls" requires the upgrade (a server that does not offer it is an error, never a silent
  plaintext fallback), "implicit" is TLS from the first byte (port 465), "none" is plaintext. Certificates
  are verified (against `tls_context` when one is given).
- Login happens only when credentials are configured *and* the server offers AUTH (after STARTTLS).
- Message-ID derives from the alert id (from the sorted alert ids for a digest), so a resend after an
  ambiguous failure carries the same Message-ID and a mail system can tell it is the same message.
- Replies: 4xx is transient, 5xx permanent; on RCPT, 552 counts as transient (RFC 5321 §4.5.3.1.10).
  When some recipients take the message and others answer 4xx, only those are retried; the sink keeps
  that list per alert in memory, so a restart or reload before the retry sends to every recipient again
  (one extra copy, same Message-ID, for those who had it). Recipients refused with 5xx are logged
  (`recipients_refused`) and dropped; the alert is parked only when every recipient refused it.
- RFC 1047: a failure after the final "." (timeout, dropped connection) may follow an accepted message;
  it is logged `delivery_ambiguous` and retried, which can duplicate it once.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Literal

import aiosmtplib
import structlog
from pydantic import Field, SecretStr, field_validator

from service.errors import OptionError, PermanentDeliveryError, RetryLater
from service.logs import Logger
from service.models import Alert
from service.options import Duration, SinkOptions, format_duration
from service.registry import SinkContext, SinkType
from service.sinks.base import log_ambiguous
from service.sinks.memo import Memo
from service.sinks.render import (
    SUBJECT_CHARS,
    clip,
    digest_subject,
    email_subject,
    html_document,
    render_digest_html,
    render_digest_text,
    render_html_fragment,
    render_text,
)
from service.sinks.templates import MessageTemplate, compile_template

TlsMode = Literal["starttls", "implicit", "none"]


class EmailRenderer:
    """Subject, text and HTML for one alert: the built-in rendering, or the sink's templates.

    An HTML template renders the *body* (a fragment); the document around it is added here, so a digest
    can stack several.
    """

    def __init__(self, name: str, subject: str | None, text: str | None, html: str | None) -> None:
        self._subject = compile_template(subject, html=False, name="subject_template")
        self._text = compile_template(text, html=False, name="text_template")
        self._html = compile_template(html, html=True, name="html_template")

    def subject(self, alert: Alert) -> str:
        if self._subject is None:
            return email_subject(alert)
        return clip(_render(self._subject, alert), SUBJECT_CHARS)  # clip joins lines: no CR/LF

    def text(self, alert: Alert) -> str:
        return _render(self._text, alert) if self._text else render_text(alert)

    def html_fragment(self, alert: Alert) -> str:
        return _render(self._html, alert) if self._html else render_html_fragment(alert)


def _render(template: MessageTemplate, alert: Alert) -> str:
    return template.render(alert)


def build_message(
    alert: Alert, *, sender: str, to: Sequence[str], renderer: EmailRenderer | None = None
) -> EmailMessage:
    renderer = renderer or EmailRenderer("email", None, None, None)
    return _message(
        subject=renderer.subject(alert),
        text=renderer.text(alert),
        html=html_document(renderer.html_fragment(alert)),
        sender=sender,
        to=to,
        local_id=alert.id,
    )


def build_digest(
    alerts: Sequence[Alert], *, sender: str, to: Sequence[str], renderer: EmailRenderer | None = None
) -> EmailMessage:
    """One message listing several alerts; its Message-ID depends only on which alerts it carries."""
    renderer = renderer or EmailRenderer("email", None, None, None)
    subject = renderer.subject(alerts[0]) if len(alerts) == 1 else digest_subject(alerts)
    return _message(
        subject=subject,
        text=render_digest_text([renderer.text(a) for a in alerts]),
        html=render_digest_html([renderer.html_fragment(a) for a in alerts]),
        sender=sender,
        to=to,
        local_id=digest_id(alerts),
    )


def digest_id(alerts: Sequence[Alert]) -> str:
    joined = "\n".join(sorted(a.id for a in alerts))
    return "digest-" + hashlib.sha256(joined.encode()).hexdigest()[:24]


def _message(
    *, subject: str, text: str, html: str, sender: str, to: Sequence[str], local_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject  # non-ASCII is RFC 2047-encoded by the policy
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "newsalert.invalid"
    message["Message-ID"] = f"<{local_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to an alert
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class EmailSink:
    concurrency = 1

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        tls: TlsMode,
        sender: str,
        to: list[str],
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        digest: float | None = None,
        subject_template: str | None = None,
        text_template: str | None = None,
        html_template: str | None = None,
        log: Logger | None = None,
    ) -> None:
        self.name = name
        self._log: Logger = log or structlog.get_logger()
        self._host, self._port, self._tls = host, port, tls
        self._sender, self._to = sender, list(to)
        self._username, self._password = username, password
        self._timeout = timeout
        self._context = tls_context
        self.digest = digest if digest and digest > 0 else None
        self._renderer = EmailRenderer(name, subject_template, text_template, html_template)
        self._retry_only: Memo[str, tuple[str, ...]] = Memo()

    async def send(self, alert: Alert) -> None:
        message = build_message(alert, sender=self._sender, to=self._to, renderer=self._renderer)
        await self._deliver(alert.id, message)

    async def send_batch(self, alerts: Sequence[Alert]) -> None:
        """One digest message for all of `alerts` (the outbox calls this for a sink with `digest`)."""
        if not alerts:
            return
        message = build_digest(alerts, sender=self._sender, to=self._to, renderer=self._renderer)
        await self._deliver(digest_id(alerts), message)

    async def _deliver(self, key: str, message: EmailMessage) -> None:
        remembered = self._retry_only.get(key)
        recipients = [r for r in self._to if remembered is None or r in remembered]
        if not recipients:  # the recipients still owed it were removed from the config meanwhile
            self._retry_only.drop(key)
            return
        refused = await self._transmit(key, message, recipients)
        self._settle(key, recipients, refused)

    async def _transmit(self, key: str, message: EmailMessage, recipients: list[str]) -> dict[str, Any]:
        """Connect, secure, log in when offered, send. Returns the recipients refused (address -> reply)."""
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._tls == "implicit",
            start_tls=self._tls == "starttls",
            timeout=self._timeout,
            tls_context=self._context,
        )
        sending = accepted = False
        try:
            # aiosmtplib's timeout is per socket operation; this one bounds the whole exchange.
            async with asyncio.timeout(self._timeout):
                await client.connect()
                await self._login(client)
                sending = True
                refused, _ = await client.send_message(message, sender=self._sender, recipients=recipients)
                accepted = True
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return {r.recipient: r for r in exc.recipients}
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
            if sending and isinstance(exc, aiosmtplib.SMTPServerDisconnected | TimeoutError):
                log_ambiguous(self._log, self.name, key, error)
            raise RetryLater(f"SMTP {error}") from exc
        finally:
            if not accepted:
                _drop(client)
        await _quit(client)
        return dict(refused)

    async def _login(self, client: aiosmtplib.SMTP) -> None:
        if not (self._username and self._password):
            return
        if client.is_ehlo_or_helo_needed:  # after STARTTLS the extensions are asked for again
            await client.ehlo()
        if client.supports_extension("auth"):
            await client.login(self._username, self._password)
        else:
            self._log.warning("smtp_auth_not_offered", sink=self.name, hint="sending without logging in")

    def _settle(self, key: str, recipients: list[str], refused: dict[str, Any]) -> None:
        later = {r: reply for r, reply in refused.items() if _transient_rcpt(reply.code)}
        never = {r: reply for r, reply in refused.items() if r not in later}
        if never:
            self._log.error(
                "recipients_refused",
                sink=self.name,
                alert=key,
                recipients=sorted(never),
                error="; ".join(f"{r}: {reply.code} {reply.message}" for r, reply in sorted(never.items())),
            )
        if later:
            self._retry_only.put(key, tuple(later))
            first = next(iter(later.values()))
            raise RetryLater(
                f"SMTP {first.code} for {len(later)} of {len(recipients)} recipients "
                f"({', '.join(sorted(later))}): {first.message}; only those are retried"
            )
        self._retry_only.drop(key)
        if refused and len(never) == len(recipients):
            first = next(iter(never.values()))
            raise PermanentDeliveryError(f"SMTP {first.code}: every recipient refused: {first.message}")

    async def close(self) -> None:
        return None


def _transient_rcpt(code: int) -> bool:
    return 400 <= code < 500 or code == 552


def _by_code(code: int, message: str) -> RetryLater | PermanentDeliveryError:
    text = f"SMTP {code}: {message}"
    return RetryLater(text) if 400 <= code < 500 else PermanentDeliveryError(text)


async def _quit(client: aiosmtplib.SMTP) -> None:
    """Say goodbye politely, briefly: the message is already accepted, so nothing here may fail it."""
    transport = client.transport
    try:
        async with asyncio.timeout(2.0):
            await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass
    finally:
        client.close()
        if isinstance(transport, asyncio.Transport):
            transport.abort()  # see _drop: the exchange is over, the socket goes now


def _drop(client: aiosmtplib.SMTP) -> None:
    """Close the connection at once.

    Closing a TLS connection politely sends close_notify and keeps the socket open until the server
    answers it or 30 s pass, in the background and beyond this send; a sink that sends often would
    accumulate such sockets. Nothing more is said on a connection being dropped or done with.
    """
    transport = client.transport
    client.close()
    if isinstance(transport, asyncio.Transport):
        transport.abort()


class EmailOptions(SinkOptions):
    type: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    tls: TlsMode = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    timeout: Duration = 30.0
    digest: Duration | None = None
    subject_template: str | None = None
    text_template: str | None = None
    html_template: str | None = None
    ca_file: str | None = None

    @field_validator("digest")
    @classmethod
    def _positive_digest(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("a digest window must be longer than zero (or leave it out)")
        return value


def _build(name: str, o: EmailOptions, context: SinkContext) -> EmailSink:
    return EmailSink(
        name,
        host=o.host,
        port=o.port,
        tls=o.tls,
        sender=o.sender,
        to=list(o.to),
        username=o.username,
        password=o.password.get_secret_value() if o.password else None,
        timeout=o.timeout,
        tls_context=_tls_context(o.ca_file),
        digest=o.digest,
        subject_template=o.subject_template,
        text_template=o.text_template,
        html_template=o.html_template,
        log=context.log,
    )


def _tls_context(ca_file: str | None) -> ssl.SSLContext | None:
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise OptionError("ca_file", f"cannot load the CA file: {exc}") from exc


def _describe(o: EmailOptions) -> str:
    login = f", login {o.username}" if o.username else ""
    login += f", digest every {format_duration(o.digest)}" if o.digest else ""
    return f"{o.host}:{o.port} ({o.tls}{login}) from {o.sender} to {', '.join(o.to)}"


SINK = SinkType("email", EmailOptions, _build, _describe)

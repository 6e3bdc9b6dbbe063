"""Email through aiosmtplib: one message per alert, text and HTML parts, Message-ID from the alert id."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
import structlog

from service.errors import PermanentDeliveryError, RetryLater
from service.models import Alert
from service.sinks.render import email_subject, render_html, render_text


def build_message(alert: Alert, *, sender: str, to: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = email_subject(alert)  # non-ASCII is RFC 2047-encoded by the policy
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2] or "newsalert.invalid"
    message["Message-ID"] = f"<{alert.id}@{domain}>"
    message.set_content(render_text(alert))
    message.add_alternative(render_html(alert), subtype="html")
    return message


class EmailSink:
    kind = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        tls: str,
        sender: str,
        to: list[str],
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self._host, self._port, self._tls = host, port, tls
        self._sender, self._to = sender, to
        self._username, self._password = username, password
        self._timeout = timeout
        self._context = tls_context

    async def send(self, alert: Alert) -> None:
        message = build_message(alert, sender=self._sender, to=self._to)
        try:
            refused, _ = await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username if self._password else None,
                password=self._password,
                use_tls=self._tls == "implicit",
                start_tls=self._tls == "starttls",
                timeout=self._timeout,
                tls_context=self._context,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _by_code(min(r.code for r in exc.recipients), "every recipient refused") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RetryLater(f"SMTP {type(exc).__name__}: {exc}") from exc
        if refused:
            # Some recipients took it; resending would duplicate for them, so log the others and move on.
            structlog.get_logger().warning(
                "recipients_refused", sink=self.name, alert=alert.id, recipients=sorted(refused)
            )

    async def close(self) -> None:
        return None


def _by_code(code: int, message: str) -> RetryLater | PermanentDeliveryError:
    text = f"SMTP {code}: {message}"
    return RetryLater(text) if 400 <= code < 500 else PermanentDeliveryError(text)

"""The email sink against aiosmtpd: TLS modes with a throwaway CA, AUTH, refusals, RFC 1047, digests."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

import pytest
import structlog

from service.errors import OptionError, PermanentDeliveryError, RetryLater
from service.models import Alert
from service.sinks.smtp import EmailSink, build_digest, build_message
from tests.peers import Mailbox, SmtpServerFactory, TestCerts, free_port
from tests.sinks.test_render import make_alert


def email(port: int, to: list[str] | None = None, **kw: Any) -> EmailSink:
    return EmailSink(
        "m",
        host="127.0.0.1",
        port=port,
        tls=kw.pop("tls", "none"),
        sender="alerts@example.org",
        to=to or ["desk@example.org"],
        timeout=kw.pop("timeout", 5),
        **kw,
    )


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


# -- TLS and AUTH ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
async def test_starttls_with_a_trusted_ca_then_login_with_the_offered_mechanism(
    smtp_server: SmtpServerFactory, test_certs: TestCerts, mechanism: str
) -> None:
    other = "PLAIN" if mechanism == "LOGIN" else "LOGIN"
    box = smtp_server(tls="starttls", auth=True, exclude=(other,))
    sink = email(
        box.port,
        tls="starttls",
        tls_context=test_certs.client_context(),
        username="alerts",
        password="s3cret-pw",
    )
    await sink.send(make_alert())
    assert box.tls_seen == [True]
    assert box.logins == [(mechanism, "alerts")]


async def test_implicit_tls_from_the_first_byte(
    smtp_server: SmtpServerFactory, test_certs: TestCerts
) -> None:
    box = smtp_server(tls="implicit", auth=True)
    sink = email(
        box.port,
        tls="implicit",
        tls_context=test_certs.client_context(),
        username="alerts",
        password="s3cret-pw",
    )
    await sink.send(make_alert())
    assert box.tls_seen == [True] and len(box.logins) == 1


async def test_starttls_required_but_not_offered_is_refused_without_a_plaintext_fallback(
    smtp_server: SmtpServerFactory, test_certs: TestCerts
) -> None:
    box = smtp_server(tls="starttls", offer_starttls=False)
    with pytest.raises(RetryLater, match="STARTTLS"):
        await email(box.port, tls="starttls", tls_context=test_certs.client_context()).send(make_alert())
    assert box.messages == []


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_a_certificate_the_sink_does_not_trust_is_refused(
    smtp_server: SmtpServerFactory, tls: str
) -> None:
    box = smtp_server(tls=tls)
    with pytest.raises(RetryLater, match=r"(?i)certificate"):
        await email(box.port, tls=tls, tls_context=ssl.create_default_context()).send(make_alert())
    assert box.messages == []


async def test_credentials_are_not_used_when_the_server_offers_no_auth(mailbox: Mailbox) -> None:
    with structlog.testing.capture_logs() as logs:
        await email(mailbox.port, username="alerts", password="s3cret-pw").send(make_alert())
    assert len(mailbox.messages) == 1
    assert any(e["event"] == "smtp_auth_not_offered" for e in logs)
    assert "s3cret-pw" not in repr(logs)


async def test_a_wrong_password_is_permanent(smtp_server: SmtpServerFactory, test_certs: TestCerts) -> None:
    box = smtp_server(tls="starttls", auth=True)
    sink = email(
        box.port, tls="starttls", tls_context=test_certs.client_context(), username="alerts", password="nope"
    )
    with pytest.raises(PermanentDeliveryError, match="535") as info:
        await sink.send(make_alert())
    assert "nope" not in str(info.value)
    assert box.messages == []


# -- refusals (S1-S3) ------------------------------------------------------------------------------------


async def test_only_the_recipient_that_answered_4xx_is_retried(mailbox: Mailbox) -> None:
    mailbox.refuse = {"busy@example.org": "451 4.3.0 Try again later"}
    sink = email(mailbox.port, ["ok@example.org", "busy@example.org"])
    with pytest.raises(RetryLater, match="only those are retried"):
        await sink.send(make_alert())
    mailbox.refuse = {}
    await sink.send(make_alert())
    assert [rcpts for _, rcpts, _ in mailbox.messages] == [["ok@example.org"], ["busy@example.org"]]
    ids = {parsed(raw)["Message-ID"] for _, _, raw in mailbox.messages}
    assert ids == {"<abc123@example.org>"}


async def test_a_recipient_refused_with_5xx_is_logged_and_the_others_get_it(mailbox: Mailbox) -> None:
    mailbox.refuse = {"gone@example.org": "550 5.1.1 No such user"}
    with structlog.testing.capture_logs() as logs:
        await email(mailbox.port, ["desk@example.org", "gone@example.org"]).send(make_alert())
    assert mailbox.messages[0][1] == ["desk@example.org"]
    [event] = [e for e in logs if e["event"] == "recipients_refused"]
    assert event["recipients"] == ["gone@example.org"] and "550" in event["error"]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 No such user", PermanentDeliveryError),
        ("451 4.3.0 Try later", RetryLater),
        ("452 4.5.3 Too many recipients", RetryLater),
        ("552 5.2.2 Mailbox full", RetryLater),  # RFC 5321: 552 on RCPT is treated as 452
    ],
)
async def test_rcpt_replies_are_classified(mailbox: Mailbox, reply: str, error: type[Exception]) -> None:
    mailbox.refuse = {"desk@example.org": reply}
    with pytest.raises(error):
        await email(mailbox.port).send(make_alert())


async def test_421_at_connect_is_retried() -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 4.3.2 Service not available, closing channel\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(RetryLater, match="421"):
            await email(port).send(make_alert())
    finally:
        server.close()
        await server.wait_closed()


async def test_an_unreachable_server_is_retried() -> None:
    with pytest.raises(RetryLater):
        await email(free_port(), timeout=2).send(make_alert())


# -- RFC 1047 (S4), header injection (S8) -----------------------------------------------------------------


async def test_a_250_that_never_arrives_is_ambiguous_and_the_resend_keeps_the_message_id(
    mailbox: Mailbox,
) -> None:
    mailbox.data_delay = 1.5
    sink = email(mailbox.port, timeout=0.5)
    with structlog.testing.capture_logs() as logs, pytest.raises(RetryLater):
        await sink.send(make_alert())
    assert any(e["event"] == "delivery_ambiguous" for e in logs)
    mailbox.data_delay = 0
    await email(mailbox.port).send(make_alert())
    await asyncio.sleep(1.2)
    assert len(mailbox.messages) == 2
    assert {parsed(raw)["Message-ID"] for _, _, raw in mailbox.messages} == {"<abc123@example.org>"}


async def test_a_title_with_a_line_break_cannot_add_a_header(mailbox: Mailbox) -> None:
    await email(mailbox.port).send(make_alert(title="Breaking\r\nBcc: attacker@x.example"))
    message = parsed(mailbox.messages[0][2])
    assert message["Bcc"] is None
    assert message["Subject"] == "[baghdad-airport-attacks] Breaking Bcc: attacker@x.example"
    assert mailbox.messages[0][1] == ["desk@example.org"]


def test_an_arabic_subject_is_rfc2047_encoded_and_the_parts_are_escaped() -> None:
    message = build_message(
        make_alert(summary="<img src=x onerror=alert(1)>"), sender="alerts@example.org", to=["d@example.org"]
    )
    raw = message.as_bytes()
    assert raw.isascii() and b"=?utf-8?" in raw.split(b"\nFrom:")[0]
    html_part = message.get_body(("html",))
    assert html_part is not None and "<img" not in html_part.get_content()
    assert message["Auto-Submitted"] == "auto-generated"


# -- templates and digests -------------------------------------------------------------------------------------


async def test_templates_shape_subject_text_and_html_with_the_html_escaped(mailbox: Mailbox) -> None:
    sink = email(
        mailbox.port,
        subject_template="ALERT {{ watchlist }}: {{ item.title }}",
        text_template="{{ item.title }} / {{ item.url }}",
        html_template="<p>{{ item.title }}</p>",
    )
    await sink.send(make_alert(title="<b>x</b>"))
    message = parsed(mailbox.messages[0][2])
    assert message["Subject"] == "ALERT baghdad-airport-attacks: <b>x</b>"
    text, page = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and text.get_content().strip() == "<b>x</b> / https://x.example/a?b=1&c=2"
    assert page is not None and "<p>&lt;b&gt;x&lt;/b&gt;</p>" in page.get_content()


def test_a_broken_email_template_fails_when_the_sink_is_built() -> None:
    with pytest.raises(OptionError, match=r"^html_template: line 1"):
        email(25, html_template="{% if %}")


def alerts(n: int) -> list[Alert]:
    return [replace(make_alert(title=f"title {i}"), id=f"alert{i}") for i in range(n)]


def test_a_digest_lists_every_alert_under_one_message_id_that_depends_only_on_which_alerts() -> None:
    batch = alerts(3)
    message = build_digest(batch, sender="alerts@example.org", to=["d@example.org"])
    again = build_digest(list(reversed(batch)), sender="alerts@example.org", to=["d@example.org"])
    assert (
        message["Message-ID"]
        == again["Message-ID"]
        != build_digest(batch[:2], sender="a@x.org", to=["d@x.org"])["Message-ID"]
    )
    assert message["Subject"] == "[baghdad-airport-attacks] 3 alerts"
    text, page = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and page is not None
    for i in range(3):
        assert f"title {i}" in text.get_content() and f"title {i}" in page.get_content()
    assert "── 3 of 3 ──" in text.get_content()


async def test_send_batch_sends_one_message(mailbox: Mailbox) -> None:
    sink = email(mailbox.port, digest=900.0)
    assert sink.digest == 900.0
    await sink.send_batch(alerts(4))
    assert len(mailbox.messages) == 1
    assert parsed(mailbox.messages[0][2])["Subject"] == "[baghdad-airport-attacks] 4 alerts"


# -- against a plain SMTP server


def email_sink(box: Mailbox, to: list[str]) -> EmailSink:
    return EmailSink(
        "m", host="127.0.0.1", port=box.port, tls="none", sender="alerts@example.org", to=to, timeout=5
    )


async def test_an_email_has_an_encoded_arabic_subject_both_parts_and_a_stable_message_id(
    mailbox: Mailbox,
) -> None:
    await email_sink(mailbox, ["desk@example.org"]).send(make_alert())
    sender, rcpts, raw = mailbox.messages[0]
    message = message_from_bytes(raw, policy=policy.default)
    assert sender == "alerts@example.org" and rcpts == ["desk@example.org"]
    assert raw.isascii() or b"Subject: =?utf-8?" in raw
    assert str(make_header(decode_header(message["Subject"]))) == "[baghdad-airport-attacks] قاآني يصل بغداد"
    assert message["Message-ID"] == "<abc123@example.org>"
    kinds = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in kinds and "text/html" in kinds


async def test_one_refused_recipient_among_several_does_not_fail_the_others(mailbox: Mailbox) -> None:
    mailbox.refuse = {"gone@example.org": "550 No such user"}
    await email_sink(mailbox, ["desk@example.org", "gone@example.org"]).send(make_alert())
    assert mailbox.messages[0][1] == ["desk@example.org"]


@pytest.mark.parametrize(
    ("reply", "error"), [("550 No such user", PermanentDeliveryError), ("451 Try later", RetryLater)]
)
async def test_smtp_5xx_is_permanent_and_4xx_is_retried(
    mailbox: Mailbox, reply: str, error: type[Exception]
) -> None:
    mailbox.refuse = {"desk@example.org": reply}
    with pytest.raises(error):
        await email_sink(mailbox, ["desk@example.org"]).send(make_alert())


async def test_an_unreachable_smtp_server_is_retried_later() -> None:
    sink = EmailSink(
        "m", host="127.0.0.1", port=9, tls="none", sender="a@example.org", to=["b@example.org"], timeout=2
    )
    with pytest.raises(RetryLater):
        await sink.send(make_alert())

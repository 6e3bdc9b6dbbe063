"""Loopback peers for delivery tests, as fixtures for the whole suite: a webhook receiver, a Bot API fake
that follows the Bot API documentation, and an SMTP server (aiosmtpd), plain, STARTTLS or implicit TLS,
with or without AUTH."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# A script entry that makes a peer drop the connection instead of answering: "before" the request is
# processed (nothing recorded), or "after" (recorded as received, then no answer: the ambiguous case).
DROP_BEFORE = "drop-before"
DROP_AFTER = "drop-after"


def _drop(request: web.Request) -> web.Response:
    """Close the TCP connection without an answer; the client sees a disconnect."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


@dataclass
class Receiver:
    """An HTTP endpoint that answers from a script of (status, headers, body) and records every request.

    A script entry may also be DROP_BEFORE or DROP_AFTER. `stamps` holds each request's arrival time
    (time.time()), `delay` makes every answer wait that many seconds.
    """

    script: list[tuple[int, dict[str, str], str] | str] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    delay: float = 0.0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        step = self.script.pop(0) if self.script else (200, {}, "ok")
        if step == DROP_BEFORE:
            return _drop(request)
        self.requests.append((dict(request.headers), body))
        self.stamps.append(time.time())
        if self.delay:
            await asyncio.sleep(self.delay)
        if step == DROP_AFTER:
            return _drop(request)
        assert not isinstance(step, str)
        status, headers, text = step
        return web.Response(status=status, headers=headers, text=text)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url("/hook"))
    yield rec
    await server.close()


@dataclass
class BotApi:
    """A Telegram Bot API fake following the documented sendMessage and editMessageText answers.

    `script` answers the next requests (of either method) in turn (an answer dict, DROP_BEFORE or DROP_AFTER, or
    ("raw", status, text) for a non-JSON body such as a proxy's HTML error page); `chats` answers every
    request to one chat id the same way (a blocked chat). `messages` holds every request body,
    `accepted` those the fake took (answered ok, or DROP_AFTER), `stamps` each accepted message's time
    by `clock`, which tests replace with their fake clock to measure pacing. `edits` holds every
    editMessageText request body; `shown` each message's current text by (chat id, message id).
    """

    token: str = "123456:TEST-token-never-logged"
    script: list[Any] = field(default_factory=list)
    chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    url: str = ""
    edits: list[dict[str, Any]] = field(default_factory=list)
    shown: dict[tuple[str, int], str] = field(default_factory=dict)

    async def send_message(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        body = await request.json()
        self.messages.append(body)
        answer = self.chats.get(str(body["chat_id"])) or (self.script.pop(0) if self.script else {"ok": True})
        if answer == DROP_BEFORE:
            return _drop(request)
        if isinstance(answer, tuple):
            _, status, text = answer
            return web.Response(status=status, text=text, content_type="text/html")
        if answer == DROP_AFTER or answer.get("ok"):
            self.accepted.append(body)
            self.stamps.append(self.clock())
        if answer == DROP_AFTER:
            return _drop(request)
        if answer.get("ok"):
            result = {"message_id": len(self.accepted), "chat": {"id": body["chat_id"]}, "text": body["text"]}
            self.shown[(str(body["chat_id"]), len(self.accepted))] = body["text"]
            return web.json_response({"ok": True, "result": result})
        return web.json_response(answer, status=answer["error_code"])

    async def edit_message_text(self, request: web.Request) -> web.Response:
        """editMessageText: the edited Message (True for an inline message, which needs no chat)."""
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        body = await request.json()
        self.edits.append(body)
        answer = self.chats.get(str(body.get("chat_id"))) or (
            self.script.pop(0) if self.script else {"ok": True}
        )
        if answer == DROP_BEFORE:
            return _drop(request)
        if isinstance(answer, tuple):
            _, status, text = answer
            return web.Response(status=status, text=text, content_type="text/html")
        if answer != DROP_AFTER and not answer.get("ok"):
            return web.json_response(answer, status=answer["error_code"])
        if "inline_message_id" in body:
            return web.json_response({"ok": True, "result": True})
        key = (str(body["chat_id"]), int(body["message_id"]))
        if key not in self.shown:
            return _bad_request("Bad Request: message to edit not found")
        if self.shown[key] == body["text"]:
            return _bad_request(
                "Bad Request: message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message"
            )
        self.shown[key] = body["text"]
        if answer == DROP_AFTER:
            return _drop(request)
        result = {
            "message_id": key[1],
            "chat": {"id": body["chat_id"]},
            "text": body["text"],
            "edit_date": int(time.time()),
        }
        return web.json_response({"ok": True, "result": result})


def _bad_request(description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": 400, "description": description}, status=400)


@pytest.fixture
async def bot_api() -> AsyncIterator[BotApi]:
    api = BotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", api.send_message)
    app.router.add_post("/bot{token}/editMessageText", api.edit_message_text)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    api.url = str(server.make_url("")).rstrip("/")
    yield api
    await server.close()


@dataclass
class Mailbox:
    """What an SMTP server received. `refuse` answers RCPT for an address with a reply of our choosing;
    `data_delay` holds the 250 after DATA (the message is already stored: RFC 1047's duplicate window)."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply
    logins: list[tuple[str, str]] = field(default_factory=list)
    data_delay: float = 0.0
    tls_seen: list[bool] = field(default_factory=list)
    port: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        self.tls_seen.append(server.transport.get_extra_info("ssl_object") is not None)
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if (user, password) == ("alerts", "s3cret-pw"):
                self.logins.append((mechanism, user))
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@dataclass(frozen=True)
class TestCerts:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI."""

    __test__ = False  # not a test class, whatever pytest thinks of its name
    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="session")
def test_certs(tmp_path_factory: pytest.TempPathFactory) -> TestCerts:
    d = tmp_path_factory.mktemp("certs")
    ca, ca_key, key, csr, cert = (d / n for n in ("ca.pem", "ca.key", "srv.key", "srv.csr", "srv.pem"))
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=newsalert test CA")  # fmt: skip
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext))  # fmt: skip
    return TestCerts(ca=ca, cert=cert, key=key)


SmtpServerFactory = Callable[..., Mailbox]


@pytest.fixture
def smtp_server(test_certs: TestCerts) -> Iterator[SmtpServerFactory]:
    """Start aiosmtpd as asked: `tls` "none" | "starttls" | "implicit", `auth` True to offer AUTH
    (LOGIN and PLAIN, less those in `exclude`; user "alerts", password "s3cret-pw"), `offer_starttls`
    False to leave STARTTLS out."""
    controllers: list[Controller] = []

    def start(
        *, tls: str = "none", auth: bool = False, offer_starttls: bool = True, exclude: tuple[str, ...] = ()
    ) -> Mailbox:
        box = Mailbox(port=free_port())
        kwargs: dict[str, Any] = {}
        if tls == "implicit":
            kwargs["ssl_context"] = test_certs.server_context()
        elif tls == "starttls" and offer_starttls:
            kwargs |= {"tls_context": test_certs.server_context(), "require_starttls": True}
        if auth:
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; implicit TLS is TLS all along.
            kwargs |= {"authenticator": box.authenticate, "auth_require_tls": tls == "starttls"}
            kwargs["auth_exclude_mechanism"] = list(exclude)
        controller = Controller(box, hostname="127.0.0.1", port=box.port, **kwargs)
        controller.start()
        controllers.append(controller)
        return box

    yield start
    for controller in controllers:
        controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def json_of(raw: bytes) -> Any:
    return json.loads(raw.decode())


async def collect_stderr(proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    """Keep every line a subprocess writes to standard error (its JSON logs)."""
    assert proc.stderr is not None
    async for raw in proc.stderr:
        lines.append(raw.decode(errors="replace"))


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until `check()` holds, polling every 0.1 s; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.1)

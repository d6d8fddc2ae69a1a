"""A loopback SMTP server (aiosmtpd) with scripted replies, AUTH and STARTTLS, for tests."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class SmtpReply:
    """A scripted answer to the next `command` ("RCPT" or "DATA"); status None: the usual one."""

    command: str
    status: str | None
    delay: float = 0.0


def temporary_failure() -> SmtpReply:
    return SmtpReply("DATA", "451 4.3.0 Try again later")


def permanent_failure() -> SmtpReply:
    return SmtpReply("DATA", "550 5.1.1 Mailbox unavailable")


def hang_after_data(seconds: float) -> SmtpReply:
    """Withhold the reply to the end of DATA for `seconds`, then accept (if the client stayed)."""
    return SmtpReply("DATA", None, seconds)


def rcpt_rejected() -> SmtpReply:
    return SmtpReply("RCPT", "550 5.1.1 No such user")


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message: `raw` as on the wire (CRLF), `message` parsed with "\n" line ends.

    `login` is who authenticated (None if nobody); `tls` says whether STARTTLS came first.
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    login: str | None
    tls: bool
    arrived: float  # time.monotonic()


class _Controller(Controller):
    """Binds port 0 (aiosmtpd's readiness probe would connect to port 0) and stops cleanly."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self) -> SMTP:
        smtp: SMTP = super().factory()  # type: ignore[no-untyped-call]
        self._protocols.add(smtp)
        return smtp

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]

    def stop(self, no_assert: bool = False) -> None:
        # aiosmtpd stops its loop without closing live connections: close them first.
        if self._thread is not None and self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close_sessions(), self.loop).result(5)
        super().stop(no_assert)

    async def _close_sessions(self) -> None:
        assert self.server is not None
        self.server.close()
        tasks = []
        for smtp in list(self._protocols):
            transport = smtp._original_transport or smtp.transport
            if transport is not None:
                transport.abort()  # type: ignore[attr-defined]
            if smtp._handler_coroutine is not None:
                smtp._handler_coroutine.cancel()
                tasks.append(smtp._handler_coroutine)
        await asyncio.gather(*tasks, return_exceptions=True)


class _Handler:
    def __init__(self, peer: SmtpPeer) -> None:
        self.peer = peer

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self.peer.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        reply = self.peer._next_reply("RCPT")
        if reply is not None and reply.delay:
            await asyncio.sleep(reply.delay)
        if reply is not None and reply.status is not None:
            return reply.status
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.peer._next_reply("DATA")
        if reply is not None and reply.delay:
            await asyncio.sleep(reply.delay)
        if reply is not None and reply.status is not None:
            return reply.status
        raw = envelope.original_content or b""
        # Parsed with the wire's CRLF line ends folded to "\n", as the sender composed it.
        parsed = BytesParser(policy=default).parsebytes(raw.replace(b"\r\n", b"\n"))
        assert isinstance(parsed, EmailMessage)
        self.peer._record(ReceivedMessage(
            str(envelope.mail_from), tuple(envelope.rcpt_tos), raw, parsed,
            session.auth_data if session.authenticated else None, session.ssl is not None,
            time.monotonic()))
        return "250 2.0.0 OK: queued"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = (part.decode("utf-8", "replace") for part in auth_data)
            if self.peer.auth is not None and self.peer.auth.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


class SmtpPeer:
    """SMTP on a free 127.0.0.1 port (`host`, `port`) collecting accepted mail in `messages`.

    `auth={"user": "password"}` offers AUTH PLAIN/LOGIN (over plain TCP unless `tls`) and then
    requires it for MAIL; `tls=True` requires STARTTLS with a fresh self-signed certificate at
    `certificate_path`. `script(*replies)` queues replies: the head of the queue answers the next
    command it names, in order.
    """

    host = "127.0.0.1"

    def __init__(self, *, auth: Mapping[str, str] | None = None, tls: bool = False) -> None:
        self.auth = dict(auth) if auth is not None else None
        self.tls = tls
        self.port = 0
        self.certificate_path: str | None = None
        self.messages: list[ReceivedMessage] = []
        self._script: list[SmtpReply] = []
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._controller: _Controller | None = None

    def script(self, *replies: SmtpReply) -> None:
        with self._lock:
            self._script.extend(replies)

    async def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    waiter[1].clear()  # before looking: a later arrival sets it again
                    with self._lock:
                        if len(self.messages) >= n:
                            return list(self.messages)
                    await waiter[1].wait()
        except TimeoutError:
            raise TimeoutError(f"{len(self.messages)} of {n} messages after {timeout}s") from None
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def __enter__(self) -> SmtpPeer:
        handler = _Handler(self)
        kwargs: dict[str, Any] = {"auth_require_tls": self.tls}
        if self.auth is not None:
            kwargs["authenticator"] = handler.authenticate
        try:
            if self.tls:
                self._tempdir = tempfile.TemporaryDirectory(prefix="smtp-peer-")
                kwargs.update(tls_context=self._server_context(Path(self._tempdir.name)),
                              require_starttls=True)
            self._controller = _Controller(handler, hostname=self.host, port=0,
                                           server_hostname="smtp-peer.test", **kwargs)
            self._controller.start()
        except BaseException:
            self._cleanup()
            raise
        self.port = self._controller.port
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self._controller is not None:
            self._controller.stop(no_assert=True)
            self._controller = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def _server_context(self, directory: Path) -> ssl.SSLContext:
        cert, key = directory / "cert.pem", directory / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True)
        self.certificate_path = str(cert)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        return context

    def _next_reply(self, command: str) -> SmtpReply | None:
        with self._lock:
            if self._script and self._script[0].command == command:
                return self._script.pop(0)
        return None

    def _record(self, message: ReceivedMessage) -> None:
        with self._lock:
            self.messages.append(message)
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

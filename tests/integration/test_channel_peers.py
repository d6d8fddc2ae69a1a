"""Every channel against a real protocol peer on loopback: one status table for all of them.

An HTTP server answers as Slack does (webhook: 200 `ok`, 429 with Retry-After, 400
`invalid_payload`, 404 `channel_not_found`, 410 `channel_is_archived`, 500; Web API: 200
with `ok: false` errors), a JSON webhook receiver checks the signature, and an aiosmtpd
server accepts, refuses (4xx, 5xx) or hangs after DATA.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from alerts.errors import NotifierError
from alerts.notifiers.email import EmailNotifier, SmtpServer
from alerts.notifiers.slack_api import SlackApiNotifier
from alerts.notifiers.slack_webhook import SlackWebhookNotifier
from alerts.notifiers.webhook import WebhookNotifier
from tests.support.alerts import make_alert
from tests.support.smtp_peer import SmtpPeer


@dataclass
class Peer:
    """An HTTP peer whose next answers are scripted: (status, body, headers)."""

    script: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    base: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.path, dict(request.headers), body))
        if request.path.startswith("/api/"):
            if request.headers.get("Authorization") != "Bearer xoxb-test":
                return web.json_response({"ok": False, "error": "invalid_auth"})
            default: tuple[int, Any, dict[str, str]] = (
                200, {"ok": True, "channel": "C1", "ts": f"1700000000.{len(self.requests):06d}"},
                {})
        else:
            default = (200, "ok", {})
        status, reply, headers = self.script.pop(0) if self.script else default
        if isinstance(reply, dict):
            return web.json_response(reply, status=status, headers=headers)
        return web.Response(status=status, text=reply, headers=headers)


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    state = Peer()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# (peer answer, retryable?, reason, retry_after): the same table for both HTTP channels.
HTTP_TABLE = [
    ((200, "ok", {}), None, None, None),
    ((429, "rate_limited", {"Retry-After": "7"}), True, "rate_limited", 7.0),
    ((400, "invalid_payload", {}), False, "http_400", None),
    ((404, "channel_not_found", {}), False, "http_404", None),
    ((410, "channel_is_archived", {}), False, "http_410", None),
    ((500, "internal_error", {}), True, "http_500", None),
    ((503, "", {}), True, "http_503", None),
]


async def outcome(send: Any) -> tuple[bool | None, str | None, float | None]:
    try:
        await send()
    except NotifierError as exc:
        return exc.retryable, exc.reason, exc.retry_after
    return None, None, None


@pytest.mark.parametrize(("answer", "retryable", "reason", "retry_after"), HTTP_TABLE)
async def test_slack_webhook_status_table(peer: Peer, session: aiohttp.ClientSession,
                                          answer: tuple[int, Any, dict[str, str]],
                                          retryable: bool | None, reason: str | None,
                                          retry_after: float | None) -> None:
    peer.script.append(answer)
    notifier = SlackWebhookNotifier("team", f"{peer.base}/hooks/T/B/x", session)
    assert await outcome(lambda: notifier.notify(make_alert(title="<!channel> news"))) == (
        retryable, reason, retry_after)
    payload = json.loads(peer.requests[0][2])
    assert "<!channel>" not in json.dumps(payload) and payload["blocks"]


@pytest.mark.parametrize(("answer", "retryable", "reason", "retry_after"), HTTP_TABLE)
async def test_json_webhook_status_table_and_signature(
        peer: Peer, session: aiohttp.ClientSession, answer: tuple[int, Any, dict[str, str]],
        retryable: bool | None, reason: str | None, retry_after: float | None) -> None:
    peer.script.append(answer)
    notifier = WebhookNotifier("crm", f"{peer.base}/hook", b"s3cret", session)
    assert await outcome(lambda: notifier.notify(make_alert())) == (
        retryable, reason, retry_after)
    _, headers, body = peer.requests[0]
    expected = hmac.new(b"s3cret", headers["X-Wirewatch-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["X-Wirewatch-Signature"] == f"sha256={expected}"
    assert json.loads(body)["alert_id"] == "a1"


@pytest.mark.parametrize(("answer", "retryable", "reason", "retry_after"), [
    ((200, {"ok": False, "error": "channel_not_found"}, {}), False, "channel_not_found", None),
    ((200, {"ok": False, "error": "is_archived"}, {}), False, "is_archived", None),
    ((200, {"ok": False, "error": "invalid_blocks"}, {}), False, "invalid_blocks", None),
    ((429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}), True,
     "rate_limited", 3.0),
    ((200, {"ok": False, "error": "internal_error"}, {}), True, "internal_error", None),
    ((500, "oops", {}), True, "http_500", None),
])
async def test_slack_api_status_table(peer: Peer, session: aiohttp.ClientSession,
                                      answer: tuple[int, Any, dict[str, str]],
                                      retryable: bool, reason: str,
                                      retry_after: float | None) -> None:
    peer.script.append(answer)
    notifier = SlackApiNotifier("bot", "xoxb-test", "C1", session, base_url=f"{peer.base}/api/")
    assert await outcome(lambda: notifier.notify(make_alert())) == (
        retryable, reason, retry_after)


async def test_slack_api_threads_updates_and_refuses_a_bad_token(
        peer: Peer, session: aiohttp.ClientSession) -> None:
    notifier = SlackApiNotifier("bot", "xoxb-test", "C1", session, base_url=f"{peer.base}/api/")
    ts = await notifier.notify(make_alert())
    assert ts == "1700000000.000001"
    await notifier.notify(make_alert(alert_id="a1-u1", is_update=True), ts)
    first, update = (json.loads(body) for _, _, body in peer.requests)
    assert first["channel"] == "C1" and "thread_ts" not in first
    assert update["thread_ts"] == ts
    wrong = SlackApiNotifier("bot", "xoxb-wrong", "C1", session, base_url=f"{peer.base}/api/")
    assert await outcome(lambda: wrong.notify(make_alert())) == (False, "invalid_auth", None)


# --- email ---------------------------------------------------------------------------

class Scripted:
    """aiosmtpd handler: answers DATA with the next scripted reply (or hangs), else 250."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.messages: list[bytes] = []
        self.release = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply == "hang":
            await asyncio.sleep(30)  # the peer never answers in time; the client must give up
            return "250 OK"
        if reply.startswith("250"):
            self.messages.append(envelope.original_content or b"")
        return reply


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Scripted, SmtpServer]]:
    handler = Scripted()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, SmtpServer(host="127.0.0.1", port=controller.port, security="none",
                                  sender="alerts@wirewatch.example", timeout=2.0)
    finally:
        controller.stop()


@pytest.mark.parametrize(("reply", "retryable", "reason"), [
    ("250 OK", None, None),
    ("451 4.3.0 Try again later", True, "smtp_451"),
    ("452 4.3.1 Insufficient storage", True, "smtp_452"),
    ("550 5.1.1 Mailbox unavailable", False, "smtp_550"),
    ("554 5.7.1 Rejected", False, "smtp_554"),
    ("hang", True, "timeout"),
])
async def test_email_status_table(smtp: tuple[Scripted, SmtpServer], reply: str,
                                  retryable: bool | None, reason: str | None) -> None:
    handler, server = smtp
    handler.replies.append(reply)
    notifier = EmailNotifier("ana", server, ["ana@example.com"])
    result = await outcome(lambda: notifier.notify(make_alert(
        title="Breaking\r\nBcc: victim@example.com")))
    assert result[:2] == (retryable, reason)
    if reply.startswith("250"):
        (raw,) = handler.messages
        parsed = message_from_bytes(raw, policy=policy.default)
        assert parsed["Bcc"] is None and parsed["To"] == "ana@example.com"
        assert parsed["Subject"].startswith("[wirewatch] Breaking Bcc:")
        assert {part.get_content_type() for part in parsed.walk()} >= {"text/plain",
                                                                         "text/html"}


async def test_email_over_starttls_with_login() -> None:
    with SmtpPeer(tls=True, auth={"alerts": "s3cret"}) as peer:
        server = SmtpServer(host=peer.host, port=peer.port, security="starttls",
                            username="alerts", password="s3cret",
                            sender="alerts@wirewatch.example", timeout=5.0,
                            ca_file=peer.certificate_path)
        notifier = EmailNotifier("ana", server, ["ana@example.com"])
        reference = await notifier.notify(make_alert())
        (received,) = await peer.wait_for_messages(1)
        assert received.tls and received.login == "alerts"
        assert received.message["Message-ID"] == reference
        wrong = EmailNotifier("ana", SmtpServer(**{**server.__dict__, "password": "nope"}),
                              ["ana@example.com"])
        retryable, reason, _ = await outcome(lambda: wrong.notify(make_alert()))
        assert retryable is False and reason.startswith("smtp_5")  # 535: a config mistake


async def test_email_refuses_an_untrusted_certificate() -> None:
    with SmtpPeer(tls=True) as peer:
        server = SmtpServer(host=peer.host, port=peer.port, security="starttls", timeout=5.0)
        retryable, reason, _ = await outcome(
            lambda: EmailNotifier("ana", server, ["ana@example.com"]).notify(make_alert()))
        assert (retryable, reason) == (True, "connection")  # never sent in the clear
        assert peer.messages == []

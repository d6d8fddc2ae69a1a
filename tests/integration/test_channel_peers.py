"""Every channel against a real protocol peer on loopback: one status table for all of them.

An HTTP server answers as Slack does (webhook: 200 `ok`, 429 with Retry-After, 400
`invalid_payload`, 404 `channel_not_found`, 410 `channel_is_archived`, 500; Web API: 200
with `ok: false` errors), a JSON webhook receiver checks the signature, and an aiosmtpd
server accepts, refuses (4xx, 5xx) or hangs after DATA.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from wirewatch.alerts.errors import NotifierError
from wirewatch.alerts.notifiers.email import EmailNotifier, SmtpServer
from wirewatch.alerts.notifiers.slack_api import SlackApiNotifier
from wirewatch.alerts.notifiers.slack_webhook import SlackWebhookNotifier
from wirewatch.alerts.notifiers.webhook import WebhookNotifier

from tests.support.alerts import make_alert
from tests.support.slack_peer import (
    Reply,
    SlackPeer,
    api_error,
    channel_is_archived,
    channel_not_found,
    invalid_payload,
    rate_limited,
    server_error,
)
from tests.support.smtp_peer import (
    SmtpPeer,
    SmtpReply,
    hang_after_data,
    permanent_failure,
    temporary_failure,
)


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    async with SlackPeer() as slack:
        yield slack


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# (peer answer, retryable?, reason, retry_after): the same table for both HTTP channels.
HTTP_TABLE = [
    (Reply(200, "ok"), None, None, None),
    (rate_limited(7), True, "rate_limited", 7.0),
    (invalid_payload(), False, "http_400", None),
    (channel_not_found(), False, "http_404", None),
    (channel_is_archived(), False, "http_410", None),
    (server_error(), True, "http_500", None),
    (Reply(503, ""), True, "http_503", None),
]


async def outcome(send: Any) -> tuple[bool | None, str | None, float | None]:
    try:
        await send()
    except NotifierError as exc:
        return exc.retryable, exc.reason, exc.retry_after
    return None, None, None


@pytest.mark.parametrize(("answer", "retryable", "reason", "retry_after"), HTTP_TABLE)
async def test_slack_webhook_status_table(peer: SlackPeer, session: aiohttp.ClientSession,
                                          answer: Reply, retryable: bool | None,
                                          reason: str | None,
                                          retry_after: float | None) -> None:
    peer.script(None, answer)
    notifier = SlackWebhookNotifier("team", peer.webhook_url("T-B-x"), session)
    assert await outcome(lambda: notifier.notify(make_alert(title="<!channel> news"))) == (
        retryable, reason, retry_after)
    payload = json.loads(peer.requests[0].raw)
    assert "<!channel>" not in json.dumps(payload) and payload["blocks"]


@pytest.mark.parametrize(("answer", "retryable", "reason", "retry_after"), HTTP_TABLE)
async def test_json_webhook_status_table_and_signature(
        peer: SlackPeer, session: aiohttp.ClientSession, answer: Reply,
        retryable: bool | None, reason: str | None, retry_after: float | None) -> None:
    peer.script(None, answer)
    notifier = WebhookNotifier("crm", peer.webhook_url("crm"), b"s3cret", session)
    assert await outcome(lambda: notifier.notify(make_alert())) == (
        retryable, reason, retry_after)
    headers, body = peer.requests[0].headers, peer.requests[0].raw
    expected = hmac.new(b"s3cret", headers["X-Wirewatch-Timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["X-Wirewatch-Signature"] == f"sha256={expected}"
    assert json.loads(body)["alert_id"] == "a1"


@pytest.mark.parametrize(("answer", "retryable", "reason", "retry_after"), [
    (api_error("channel_not_found"), False, "channel_not_found", None),
    (api_error("is_archived"), False, "is_archived", None),
    (api_error("invalid_blocks"), False, "invalid_blocks", None),
    (rate_limited(3, api=True), True, "rate_limited", 3.0),
    (api_error("internal_error"), True, "internal_error", None),
    (Reply(500, "oops"), True, "http_500", None),
])
async def test_slack_api_status_table(peer: SlackPeer, session: aiohttp.ClientSession,
                                      answer: Reply, retryable: bool, reason: str,
                                      retry_after: float | None) -> None:
    peer.script(None, answer)
    notifier = SlackApiNotifier("bot", peer.token, "C1", session, base_url=peer.api_base_url)
    assert await outcome(lambda: notifier.notify(make_alert())) == (
        retryable, reason, retry_after)


async def test_slack_api_threads_updates_and_refuses_a_bad_token(
        peer: SlackPeer, session: aiohttp.ClientSession) -> None:
    notifier = SlackApiNotifier("bot", peer.token, "C1", session, base_url=peer.api_base_url)
    ts = await notifier.notify(make_alert())
    assert ts == "1700000000.000100"
    await notifier.notify(make_alert(alert_id="a1-u1", is_update=True), ts)
    first, update = (json.loads(request.raw) for request in peer.requests)
    assert first["channel"] == "C1" and "thread_ts" not in first
    assert update["thread_ts"] == ts
    wrong = SlackApiNotifier("bot", "xoxb-wrong", "C1", session, base_url=peer.api_base_url)
    assert await outcome(lambda: wrong.notify(make_alert())) == (False, "invalid_auth", None)


# --- email ---------------------------------------------------------------------------

@pytest.fixture
def smtp() -> Iterator[tuple[SmtpPeer, SmtpServer]]:
    with SmtpPeer() as peer:
        yield peer, SmtpServer(host=peer.host, port=peer.port, security="none",
                               sender="alerts@wirewatch.example", timeout=2.0)


@pytest.mark.parametrize(("reply", "retryable", "reason"), [
    (None, None, None),
    (temporary_failure(), True, "smtp_451"),
    (SmtpReply("DATA", "452 4.3.1 Insufficient storage"), True, "smtp_452"),
    (permanent_failure(), False, "smtp_550"),
    (SmtpReply("DATA", "554 5.7.1 Rejected"), False, "smtp_554"),
    (hang_after_data(30), True, "timeout"),  # the client gives up after its 2 s timeout
])
async def test_email_status_table(smtp: tuple[SmtpPeer, SmtpServer], reply: SmtpReply | None,
                                  retryable: bool | None, reason: str | None) -> None:
    peer, server = smtp
    if reply is not None:
        peer.script(reply)
    notifier = EmailNotifier("ana", server, ["ana@example.com"])
    result = await outcome(lambda: notifier.notify(make_alert(
        title="Breaking\r\nBcc: victim@example.com")))
    assert result[:2] == (retryable, reason)
    if reply is None:
        (received,) = await peer.wait_for_messages(1)
        parsed = received.message
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

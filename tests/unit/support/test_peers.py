"""The loopback Slack and SMTP peers answer, fail on script, record and stop as promised."""

from __future__ import annotations

import asyncio
import gc
import re
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage

import aiohttp
import aiosmtplib
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.support import slack_peer, smtp_peer
from tests.support.slack_peer import SlackPeer
from tests.support.smtp_peer import SmtpPeer

TS = re.compile(r"^\d{10}\.\d{6}$")


@pytest.fixture
async def slack() -> AsyncIterator[SlackPeer]:
    async with SlackPeer() as peer:
        yield peer


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def smtp() -> Iterator[SmtpPeer]:
    with SmtpPeer() as peer:
        yield peer


def mail(subject: str = "Quake", to: str = "desk@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "wirewatch@example.org"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Story body\n")
    return message


# Slack


async def test_webhook_success_is_recorded(slack: SlackPeer, http: aiohttp.ClientSession):
    before = time.monotonic()
    async with http.post(slack.webhook_url("team"), json={"text": "hello"}) as response:
        assert (response.status, await response.text()) == (200, "ok")
        assert response.content_type == "text/plain"
    [received] = slack.requests
    assert received.method == "POST" and received.path == "/webhook/team"
    assert received.json == {"text": "hello"}
    assert received.headers["content-type"] == "application/json"
    assert before <= received.arrived <= time.monotonic()


async def test_webhook_rejects_what_slack_rejects(slack: SlackPeer,
                                                  http: aiohttp.ClientSession):
    async with http.post(slack.webhook_url("team"), data=b"{not json",
                         headers={"Content-Type": "application/json"}) as response:
        assert (response.status, await response.text()) == (400, "invalid_payload")
    async with http.post(slack.webhook_url("team"), json={"username": "x"}) as response:
        assert (response.status, await response.text()) == (400, "no_text")
    async with http.post(slack.webhook_url("team"),
                         data={"payload": '{"text": "form"}'}) as response:
        assert (response.status, await response.text()) == (200, "ok")
    assert slack.requests[-1].json == {"text": "form"}


@pytest.mark.parametrize(("reply", "status", "body", "headers"), [
    (slack_peer.rate_limited(7), 429, "rate_limited", {"Retry-After": "7"}),
    (slack_peer.invalid_payload(), 400, "invalid_payload", {}),
    (slack_peer.channel_not_found(), 404, "channel_not_found", {}),
    (slack_peer.channel_is_archived(), 410, "channel_is_archived", {}),
    (slack_peer.server_error(), 500, "internal_error", {}),
], ids=["rate_limited", "invalid_payload", "channel_not_found", "archived", "server_error"])
async def test_scripted_webhook_failure_then_success(
        slack: SlackPeer, http: aiohttp.ClientSession, reply: slack_peer.Reply, status: int,
        body: str, headers: dict[str, str]):
    slack.script("/webhook/", reply)
    async with http.post(slack.webhook_url("team"), json={"text": "a"}) as response:
        assert (response.status, await response.text()) == (status, body)
        assert {k: response.headers.get(k) for k in headers} == headers
    async with http.post(slack.webhook_url("team"), json={"text": "a"}) as response:
        assert (response.status, await response.text()) == (200, "ok")
    assert len(slack.requests) == 2


async def test_script_is_consumed_in_order_by_matching_path(slack: SlackPeer,
                                                            http: aiohttp.ClientSession):
    slack.script("/api/", slack_peer.api_error("channel_not_found"))
    slack.script(None, slack_peer.server_error(), slack_peer.rate_limited(1))
    statuses = []
    for _ in range(3):
        async with http.post(slack.webhook_url("ops"), json={"text": "a"}) as response:
            statuses.append(response.status)
    assert statuses == [500, 429, 200]
    headers = {"Authorization": f"Bearer {slack.token}"}
    url = slack.api_base_url + "chat.postMessage"
    bodies = []
    for _ in range(2):
        async with http.post(url, json={"channel": "C1", "text": "a"}, headers=headers) as r:
            assert r.status == 200
            bodies.append(await r.json())
    assert bodies[0] == {"ok": False, "error": "channel_not_found"}
    assert bodies[1]["ok"] is True


async def test_post_message_answers_like_slack(slack: SlackPeer, http: aiohttp.ClientSession):
    assert slack.api_base_url.endswith("/api/")
    url = slack.api_base_url + "chat.postMessage"
    headers = {"Authorization": f"Bearer {slack.token}"}
    async with http.post(url, json={"channel": "C1", "text": "first"}, headers=headers) as r:
        first = await r.json()
    reply = {"channel": "C1", "text": "reply", "thread_ts": first["ts"]}
    async with http.post(url, json=reply, headers=headers) as r:
        assert r.status == 200
        second = await r.json()
    async with http.post(url, data={"channel": "C2", "text": "form"}, headers=headers) as r:
        third = await r.json()
    assert first["ok"] and first["channel"] == "C1" and first["message"]["text"] == "first"
    assert all(TS.match(body["ts"]) for body in (first, second, third))
    assert first["ts"] < second["ts"] < third["ts"]
    assert second["message"]["thread_ts"] == first["ts"]
    assert slack.requests[1].json["thread_ts"] == first["ts"]
    assert [m["channel"] for m in slack.posted] == ["C1", "C1", "C2"]
    assert slack.posted[1]["thread_ts"] == first["ts"]


async def test_post_message_wants_the_token(slack: SlackPeer, http: aiohttp.ClientSession):
    url = slack.api_base_url + "chat.postMessage"
    for headers in ({"Authorization": "Bearer xoxb-wrong"}, {}):
        async with http.post(url, json={"channel": "C1", "text": "a"}, headers=headers) as r:
            assert r.status == 200
            assert await r.json() == {"ok": False, "error": "invalid_auth"}
    assert slack.posted == []


async def test_api_rate_limit_is_429_with_json(slack: SlackPeer, http: aiohttp.ClientSession):
    slack.script("/api/", slack_peer.rate_limited(30, api=True))
    async with http.post(slack.api_base_url + "chat.postMessage", json={"channel": "C1"},
                         headers={"Authorization": f"Bearer {slack.token}"}) as r:
        assert (r.status, r.headers["Retry-After"]) == (429, "30")
        assert await r.json() == {"ok": False, "error": "ratelimited"}


async def test_slack_sdk_clients_talk_to_the_peer(slack: SlackPeer):
    client = AsyncWebClient(token=slack.token, base_url=slack.api_base_url)
    posted = await client.chat_postMessage(channel="C9", text="story")
    threaded = await client.chat_postMessage(channel="C9", text="more", thread_ts=posted["ts"])
    assert threaded["message"]["thread_ts"] == posted["ts"]
    slack.script("/api/", slack_peer.api_error("channel_not_found"))
    with pytest.raises(SlackApiError) as failure:
        await client.chat_postMessage(channel="C404", text="x")
    assert failure.value.response["error"] == "channel_not_found"
    webhook = await AsyncWebhookClient(slack.webhook_url("desk")).send(text="hi")
    assert (webhook.status_code, webhook.body) == (200, "ok")


async def test_hang_outlasts_a_client_timeout(slack: SlackPeer, http: aiohttp.ClientSession):
    slack.script(None, slack_peer.hang(30))
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(slack.webhook_url("team"), json={"text": "a"},
                             timeout=aiohttp.ClientTimeout(total=0.3)):
            pass
    slack.script(None, slack_peer.hang(0.2))
    started = time.monotonic()
    async with http.post(slack.webhook_url("team"), json={"text": "a"}) as response:
        assert (response.status, await response.text()) == (200, "ok")
    assert time.monotonic() - started >= 0.2


async def test_closing_releases_a_hanging_reply(http: aiohttp.ClientSession):
    started = time.monotonic()
    async with SlackPeer() as peer:
        peer.script(None, slack_peer.hang(30))
        pending = asyncio.ensure_future(http.post(peer.webhook_url("t"), json={"text": "a"}))
        await peer.wait_for_requests(1)
    async with await pending as response:
        assert response.status == 200
    assert time.monotonic() - started < 5


async def test_wait_for_requests(slack: SlackPeer, http: aiohttp.ClientSession):
    with pytest.raises(TimeoutError):
        await slack.wait_for_requests(1, timeout=0.1)
    waiting = asyncio.ensure_future(slack.wait_for_requests(2, timeout=5))
    for text in ("a", "b"):
        async with http.post(slack.webhook_url("team"), json={"text": text}):
            pass
    assert [r.json["text"] for r in await waiting] == ["a", "b"]


# SMTP


async def test_smtp_accepts_and_parses(smtp: SmtpPeer):
    waiting = asyncio.ensure_future(smtp.wait_for_messages(1))
    await aiosmtplib.send(mail(), hostname=smtp.host, port=smtp.port)
    [received] = await waiting
    assert received.mail_from == "wirewatch@example.org"
    assert received.rcpt_tos == ("desk@example.org",)
    assert received.message["Subject"] == "Quake"
    assert received.message.get_content() == "Story body\n"
    assert b"Subject: Quake\r\n" in received.raw
    assert (received.login, received.tls) == (None, False)


async def test_wait_for_messages_times_out(smtp: SmtpPeer):
    with pytest.raises(TimeoutError):
        await smtp.wait_for_messages(1, timeout=0.1)


@pytest.mark.parametrize(("reply", "code", "text"), [
    (smtp_peer.temporary_failure(), 451, "4.3.0 Try again later"),
    (smtp_peer.permanent_failure(), 550, "5.1.1 Mailbox unavailable"),
], ids=["temporary", "permanent"])
async def test_scripted_data_failure_then_success(smtp: SmtpPeer, reply: smtp_peer.SmtpReply,
                                                  code: int, text: str):
    smtp.script(reply)
    with pytest.raises(aiosmtplib.SMTPDataError) as failure:
        await aiosmtplib.send(mail(), hostname=smtp.host, port=smtp.port)
    assert (failure.value.code, failure.value.message) == (code, text)
    assert smtp.messages == []
    await aiosmtplib.send(mail(), hostname=smtp.host, port=smtp.port)
    assert len(await smtp.wait_for_messages(1)) == 1


async def test_rcpt_rejection_and_script_order(smtp: SmtpPeer):
    smtp.script(smtp_peer.temporary_failure(), smtp_peer.rcpt_rejected())
    with pytest.raises(aiosmtplib.SMTPDataError):  # RCPT passes: DATA is at the head
        await aiosmtplib.send(mail(), hostname=smtp.host, port=smtp.port)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(mail(), hostname=smtp.host, port=smtp.port)
    [recipient] = refused.value.recipients
    assert (recipient.code, recipient.message) == (550, "5.1.1 No such user")
    await aiosmtplib.send(mail("Second"), hostname=smtp.host, port=smtp.port)
    [received] = await smtp.wait_for_messages(1)
    assert received.message["Subject"] == "Second"


async def test_hang_after_data_times_the_client_out(smtp: SmtpPeer):
    smtp.script(smtp_peer.hang_after_data(5))
    started = time.monotonic()
    with pytest.raises(aiosmtplib.SMTPTimeoutError):
        await aiosmtplib.send(mail(), hostname=smtp.host, port=smtp.port, timeout=1)
    assert 0.9 <= time.monotonic() - started < 3
    assert smtp.messages == []


async def test_auth_plain_and_login():
    with SmtpPeer(auth={"alice": "s3cret"}) as peer:
        for mechanism in ("auth_plain", "auth_login"):
            async with aiosmtplib.SMTP(hostname=peer.host, port=peer.port) as client:
                await getattr(client, mechanism)("alice", "s3cret")
                await client.send_message(mail(mechanism))
        received = await peer.wait_for_messages(2)
    assert [(m.message["Subject"], m.login) for m in received] == [
        ("auth_plain", "alice"), ("auth_login", "alice")]


async def test_auth_rejects_wrong_password_and_anonymous_mail():
    with SmtpPeer(auth={"alice": "s3cret"}) as peer:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
            await aiosmtplib.send(mail(), hostname=peer.host, port=peer.port,
                                  username="alice", password="guess")
        assert wrong.value.code == 535
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as anonymous:
            await aiosmtplib.send(mail(), hostname=peer.host, port=peer.port)
        assert anonymous.value.code == 530
        assert peer.messages == []


async def test_starttls_with_the_generated_certificate():
    with SmtpPeer(tls=True, auth={"alice": "s3cret"}) as peer:
        assert peer.certificate_path is not None
        await aiosmtplib.send(mail(), hostname=peer.host, port=peer.port, start_tls=True,
                              cert_bundle=peer.certificate_path,
                              username="alice", password="s3cret")
        [received] = await peer.wait_for_messages(1)
        assert (received.tls, received.login) == (True, "alice")
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as plain:
            await aiosmtplib.send(mail(), hostname=peer.host, port=peer.port, start_tls=False)
        assert plain.value.code == 530
        with pytest.raises(ssl.SSLCertVerificationError):  # not trusted without the cert
            await aiosmtplib.send(mail(), hostname=peer.host, port=peer.port, start_tls=True)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "starttls"])
async def test_stop_closes_live_sessions_and_thread(tls: bool):
    threads = set(threading.enumerate())
    with SmtpPeer(tls=tls) as peer:
        client = aiosmtplib.SMTP(hostname=peer.host, port=peer.port, timeout=2, start_tls=tls,
                                 cert_bundle=peer.certificate_path)
        await client.connect()
        await client.ehlo()
    assert set(threading.enumerate()) == threads
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    client.close()
    gc.collect()  # an unclosed server-side socket would warn here

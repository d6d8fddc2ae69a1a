"""Channel failures end to end: many channels at once through the real dispatcher and outbox.

The dispatcher is wired as `wirewatch.streams.app.run_dispatcher` wires it: the Redis `Outbox`, the
notifiers that `wirewatch.alerts.channels` builds from a channels document, each channel's pace, a
retry policy with a deadline (`WIREWATCH_ALERT_RETRY_DEADLINE_SECONDS`) and a dead-letter hook that
sends to news.dlq.v1 with the same headers as `run_dispatcher`'s. The channels answer from real
protocol peers on loopback: a Slack (tests/support/slack_peer.py) that also serves the JSON
webhooks, aiosmtpd servers (tests/support/smtp_peer.py), and a TCP server that accepts mail
connections and never says a word.

The unit-level status tables live in tests/unit/alerts/test_dispatch.py and
tests/integration/test_channel_peers.py; this file is about several channels failing at the
same time, each its own way, while the healthy ones keep delivering.

One JSON row per channel (fault) goes to test-artifacts/reliability/test_channel_failures.json:
`items_lost` counts alerts that were neither delivered nor dead-lettered, `duplicates` the
deliveries beyond one per alert, `recovery_seconds` the time from a channel's first failure to
its first delivery after it (null when it never recovered and dead-lettered instead).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY
from wirewatch.alerts.breaker import BreakerPolicy
from wirewatch.alerts.channels import parse_channels
from wirewatch.alerts.dispatch import Dispatcher, Notifier, RetryPolicy
from wirewatch.alerts.errors import NotifierError
from wirewatch.alerts.notifiers.webhook import WebhookNotifier
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.records import Alert, encode_alert
from wirewatch.connectors.publish import new_producer

from tests.reliability.results import record
from tests.support.alerts import make_alert
from tests.support.hub import eventually
from tests.support.slack_peer import (
    Reply,
    SlackPeer,
    channel_not_found,
    hang,
    rate_limited,
    server_error,
)
from tests.support.smtp_peer import SmtpPeer, permanent_failure, temporary_failure

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

STEM = Path(__file__).stem
DEADLINE = 6.0  # WIREWATCH_ALERT_RETRY_DEADLINE_SECONDS (production: 300)
POLICY = RetryPolicy(deadline=DEADLINE)  # production backoff: 0.5 s doubling, full jitter
# Here each fault's own path, retries to the deadline, is measured; with the production
# circuit breaker a hanging channel's alerts would wait, paused, instead of dead-lettering
# (that path: tests/unit/alerts/test_dispatch.py and test_breaker.py).
RETRIES_ALONE = BreakerPolicy(failures_to_open=1_000_000)
SMTP_TIMEOUT = 2.0  # smtp.timeout_seconds in the channels file (production default: 30)
WEBHOOK_TIMEOUT = 2.0  # WebhookNotifier's 10 s, which no setting changes, lowered here
RETRY_AFTER = 3  # seconds, in the rate-limited Slack's 429
SLACK_5XX = 3  # 5xx answers before the flaky Slack recovers
SMTP_4XX = 2  # 451 answers before the busy relay accepts
HEALTHY_LATENCY = 2.0  # seconds from queueing to a healthy channel's peer, whatever else fails
SLOTS = 8  # the dispatcher's default `concurrency`: deliveries in flight per channel


class SilentSmtp:
    """A mail relay that accepts TCP connections and never answers (not even the greeting)."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.connections: list[float] = []  # time.monotonic() of each accepted connection
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> SilentSmtp:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(time.monotonic())
        self._writers.append(writer)
        await reader.read()  # until the client gives up
        writer.close()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


@dataclass
class DeadLetters:
    """run_dispatcher's dead-letter hook: the alert to news.dlq.v1 with the reason in headers."""

    producer: AIOKafkaProducer
    topic: str
    source_topic: str
    letters: list[tuple[str, str, str, float]] = field(default_factory=list)

    async def __call__(self, alert: Alert, channel: str, reason: str, detail: str) -> None:
        self.letters.append((alert.alert_id, channel, reason, time.monotonic()))
        await self.producer.send_and_wait(
            self.topic, key=alert.subscription_id.encode(), value=encode_alert(alert), headers=[
                ("stage", b"deliver"), ("channel", channel.encode()),
                ("reason", reason.encode()),
                ("error", detail[:1000].encode("utf-8", "replace")),
                ("source_topic", self.source_topic.encode())])

    def of(self, channel: str) -> list[tuple[str, str, str, float]]:
        return [letter for letter in self.letters if letter[1] == channel]


async def read_dlq(bootstrap: str, topic: str, expected: int,
                   timeout: float = 15.0) -> list[dict[str, str]]:
    """The DLQ's records as their headers (plus the alert id), `expected` of them or fail."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    found: list[dict[str, str]] = []

    def read(batch: dict[Any, list[Any]]) -> list[dict[str, str]]:
        return [{**{k: v.decode() for k, v in m.headers},
                 "alert_id": json.loads(m.value or b"{}")["alert_id"]}
                for messages in batch.values() for m in messages]

    try:
        async with asyncio.timeout(timeout):
            while len(found) < expected:
                found += read(await consumer.getmany(timeout_ms=200))
    except TimeoutError:
        return found  # fewer than expected: the caller's comparison says which are missing
    else:
        found += read(await consumer.getmany(timeout_ms=500))  # any more are duplicates
    finally:
        await consumer.stop()
    return found


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"wirewatch_alerts_{name}_total", labels) or 0.0


@pytest.fixture
async def dlq(broker: Any, topic_factory: Any) -> AsyncIterator[DeadLetters]:
    topics = await topic_factory(partitions=1)
    producer = new_producer(broker.bootstrap, idempotent=broker.idempotent,
                            client_id="channel-failures")
    await producer.start()
    try:
        yield DeadLetters(producer, topics.dlq, topics.alerts)
    finally:
        await producer.stop()


@pytest.fixture
async def slack() -> AsyncIterator[SlackPeer]:
    async with SlackPeer() as peer:
        yield peer


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def smtp_peers() -> Iterator[dict[str, SmtpPeer]]:
    with SmtpPeer() as healthy, SmtpPeer() as busy, SmtpPeer() as refusing:
        yield {"healthy": healthy, "busy": busy, "refusing": refusing}


def smtp_block(host: str, port: int) -> dict[str, Any]:
    return {"host": host, "port": port, "security": "none", "sender": "alerts@wirewatch.example",
            "timeout_seconds": SMTP_TIMEOUT}


def build(documents: list[dict[str, Any]], session: aiohttp.ClientSession,
          slack_api_url: str) -> tuple[dict[str, Notifier], dict[str, float]]:
    """Notifiers and paces from channels documents, as run_dispatcher builds them. Email
    channels share one SMTP server per document, so each relay gets a document of its own."""
    notifiers: dict[str, Notifier] = {}
    pace: dict[str, float] = {}
    for document in documents:
        channels = parse_channels(document, "test channels", env={})
        built = channels.notifiers(session, slack_api_url=slack_api_url)
        notifiers.update({cid: n for cid, n in built.items() if cid != "console"})
        pace.update(channels.pace())
    return notifiers, pace


@dataclass
class Running:
    """A dispatcher running in the background; stopped (and awaited) on exit."""

    dispatcher: Dispatcher
    task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.dispatcher.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.dispatcher.stop()
        assert self.task is not None
        try:
            await asyncio.wait_for(self.task, 10)  # a worker blocks in XREADGROUP for 1 s
        except TimeoutError:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            raise


@dataclass(frozen=True)
class Call:
    """One notify() the dispatcher made: which alert, when, and how it ended."""

    alert_id: str
    start: float
    end: float
    outcome: str  # "ok" or the NotifierError's reason


class Traced:
    """A real notifier, with each call the dispatcher makes noted; behaviour unchanged."""

    def __init__(self, inner: Notifier) -> None:
        self.inner = inner
        self.calls: list[Call] = []

    async def notify(self, alert: Alert, thread: str | None = None) -> str | None:
        start = time.monotonic()
        try:
            reference = await self.inner.notify(alert, thread)
        except NotifierError as exc:
            self.calls.append(Call(alert.alert_id, start, time.monotonic(), exc.reason))
            raise
        self.calls.append(Call(alert.alert_id, start, time.monotonic(), "ok"))
        return reference

    def of(self, alert_id: str) -> list[Call]:
        return sorted((c for c in self.calls if c.alert_id == alert_id), key=lambda c: c.start)


def final(state: str | None) -> bool:
    return state is not None and state.startswith(("sent ", "failed "))


async def ledger(outbox: Outbox, alerts: list[Alert],
                 channels: list[str]) -> dict[tuple[str, str], str | None]:
    return {(a.alert_id, c): await outbox.state(a.alert_id, c) for a in alerts for c in channels}


def at_peer(channel: str, alert_id: str, slack: SlackPeer,
            smtp: Mapping[str, SmtpPeer]) -> list[float]:
    """When the channel's peer received the alert (a message it accepted or answered)."""
    if channel in smtp:
        return [m.arrived for m in smtp[channel].messages
                if m.message["X-Wirewatch-Alert-Id"] == alert_id]
    path = "/api/chat.postMessage" if channel.startswith("slack-api") else f"/webhook/{channel}"
    return [r.arrived for r in slack.requests
            if r.path == path and alert_id.encode() in r.raw]


# --- several channels failing at once ----------------------------------------------------------

CHANNELS = {
    # id: (fault name for the results, what must become of its alerts, reason if dead-lettered)
    "slack-healthy": ("healthy-slack", "sent", None),
    "slack-429": ("slack-429-retry-after", "sent", None),
    "slack-5xx": ("slack-5xx-then-200", "sent", None),
    "slack-gone": ("slack-404-channel-not-found", "failed", "http_404"),
    "slack-api-bad-token": ("slack-api-invalid-auth", "failed", "invalid_auth"),
    "mail-healthy": ("healthy-email", "sent", None),
    "mail-4xx": ("smtp-451-then-accept", "sent", None),
    "mail-5xx": ("smtp-550", "failed", "smtp_550"),
    "mail-hang": ("smtp-hangs-silent", "failed", "timeout"),
    "hook-healthy": ("healthy-webhook", "sent", None),
    "hook-timeout": ("webhook-times-out", "failed", "timeout"),
}
HEALTHY = ("slack-healthy", "mail-healthy", "hook-healthy")
ALERTS = 3  # queued one a second (bursts: see the starvation test below)


@pytest.mark.slow
async def test_each_channel_fails_its_own_way_while_the_healthy_ones_keep_flowing(
        redis_client: aioredis.Redis, unique: str, broker: Any, dlq: DeadLetters,
        slack: SlackPeer, session: aiohttp.ClientSession,
        smtp_peers: dict[str, SmtpPeer]) -> None:
    smtp = {"mail-healthy": smtp_peers["healthy"], "mail-4xx": smtp_peers["busy"],
            "mail-5xx": smtp_peers["refusing"]}
    slack.script("/webhook/slack-429", rate_limited(RETRY_AFTER))
    slack.script("/webhook/slack-5xx", *[server_error()] * SLACK_5XX)
    slack.script("/webhook/slack-gone", *[channel_not_found()] * ALERTS)
    slack.script("/webhook/hook-timeout", *[hang(60)] * 30)
    slack.script("/webhook/hook-healthy", *[Reply(200, "ok")] * 2 * ALERTS)  # a JSON receiver
    smtp["mail-4xx"].script(*[temporary_failure()] * SMTP_4XX)
    smtp["mail-5xx"].script(*[permanent_failure()] * ALERTS)

    async with SilentSmtp() as silent:
        built, pace = build([
            {"smtp": smtp_block(SmtpPeer.host, smtp["mail-healthy"].port), "channels": [
                {"id": "slack-healthy", "kind": "slack-webhook",
                 "url": slack.webhook_url("slack-healthy")},
                {"id": "slack-429", "kind": "slack-webhook",
                 "url": slack.webhook_url("slack-429")},
                {"id": "slack-5xx", "kind": "slack-webhook",
                 "url": slack.webhook_url("slack-5xx")},
                {"id": "slack-gone", "kind": "slack-webhook",
                 "url": slack.webhook_url("slack-gone")},
                {"id": "slack-api-bad-token", "kind": "slack-api", "token": "xoxb-revoked",
                 "channel": "C0NEWS"},
                {"id": "mail-healthy", "kind": "email", "to": ["ana@example.com"]},
                {"id": "hook-healthy", "kind": "webhook",
                 "url": slack.webhook_url("hook-healthy"), "secret": "s3cret"},
                {"id": "hook-timeout", "kind": "webhook",
                 "url": slack.webhook_url("hook-timeout"), "secret": "s3cret"}]},
            {"smtp": smtp_block(SmtpPeer.host, smtp["mail-4xx"].port),
             "channels": [{"id": "mail-4xx", "kind": "email", "to": ["ben@example.com"]}]},
            {"smtp": smtp_block(SmtpPeer.host, smtp["mail-5xx"].port),
             "channels": [{"id": "mail-5xx", "kind": "email", "to": ["cy@example.com"]}]},
            {"smtp": smtp_block(silent.host, silent.port),
             "channels": [{"id": "mail-hang", "kind": "email", "to": ["di@example.com"]}]},
        ], session, slack.api_base_url)
        hook = built["hook-timeout"]
        assert isinstance(hook, WebhookNotifier)
        hook.timeout = WEBHOOK_TIMEOUT
        assert set(built) == set(CHANNELS)
        assert pace == {c: 1.0 for c in CHANNELS if c.startswith("slack")}  # Slack's default
        traced = {channel: Traced(notifier) for channel, notifier in built.items()}

        retried = {(c, r): counter("retried", channel=c, reason=r) for c, r in [
            ("slack-429", "rate_limited"), ("slack-5xx", "http_500"), ("mail-4xx", "smtp_451"),
            ("mail-hang", "timeout"), ("hook-timeout", "timeout")]}
        dead_lettered = {c: counter("dead_lettered", channel=c, reason=r)
                         for c, (_, outcome, r) in CHANNELS.items() if r is not None}
        outbox = Outbox(redis_client, prefix=f"{unique}:")
        dispatcher = Dispatcher(outbox, traced, dead_letter=dlq, policy=POLICY,
                                breaker=RETRIES_ALONE,
                                pace_seconds=pace)
        alerts = [make_alert(alert_id=f"{unique}-{n}", subscription_id="sub-markets",
                             title=f"Markets move {unique}-{n}", channels=list(CHANNELS),
                             created_at=datetime.now(UTC)) for n in range(ALERTS)]
        queued: dict[str, float] = {}
        started = time.monotonic()
        async with Running(dispatcher):
            for n, alert in enumerate(alerts):
                # The workload's pace, one alert a second as stories come in: not a wait for
                # anything to happen.
                await asyncio.sleep(max(0.0, started + n - time.monotonic()))
                assert await outbox.enqueue(alert) == list(CHANNELS)
                queued[alert.alert_id] = time.monotonic()

            async def all_final() -> bool:
                states = await ledger(outbox, alerts, list(CHANNELS))
                return all(final(state) for state in states.values())

            await eventually(all_final, "a final ledger state for every alert and channel",
                             timeout=ALERTS * (DEADLINE + WEBHOOK_TIMEOUT) + 15, interval=0.05)
        scenario_seconds = time.monotonic() - started
        states = await ledger(outbox, alerts, list(CHANNELS))
        backlog = {c: await redis_client.xlen(f"{unique}:outbox:{c}") for c in CHANNELS}
    retried = {key: counter("retried", channel=key[0], reason=key[1]) - value
               for key, value in retried.items()}
    dead_lettered = {c: counter("dead_lettered", channel=c, reason=str(CHANNELS[c][2])) - value
                     for c, value in dead_lettered.items()}
    first = alerts[0].alert_id

    # One row per channel, written before any assertion can stop the test. Delivered means a
    # call the dispatcher saw succeed; at_peer cross-checks that with what the peer received.
    rows: dict[str, dict[str, Any]] = {}
    for channel, (fault, _, _) in CHANNELS.items():
        calls = sorted(traced[channel].calls, key=lambda c: c.start)
        delivered = {a.alert_id: sum(1 for c in calls if c.alert_id == a.alert_id
                                     and c.outcome == "ok") for a in alerts}
        dead = dlq.of(channel)
        dead_ids = {aid for aid, _, _, _ in dead}
        failures = [c for c in calls if c.outcome != "ok"]
        recovered = [c.end for c in calls if c.outcome == "ok" and failures
                     and c.start > failures[0].start]
        row = {
            "fault": fault,
            "what_happened": (
                f"{channel}: {sum(1 for n in delivered.values() if n)} of {ALERTS} alerts "
                f"delivered, {len(dead)} dead-lettered"
                f"{''.join(f' ({r})' for r in sorted({r for _, _, r, _ in dead}))}; {len(calls)} "
                f"attempt(s), failures: "
                f"{', '.join(sorted({c.outcome for c in failures})) or 'none'}"),
            "items_lost": sum(1 for a in alerts
                              if not delivered[a.alert_id] and a.alert_id not in dead_ids),
            "duplicates": sum(max(0, n - 1) for n in delivered.values())
                          + len(dead) - len(dead_ids),
            "recovery_seconds": (round(min(recovered) - failures[0].start, 3)
                                 if recovered else None),
            "latency_seconds": sorted(
                round(at_peer(channel, aid, slack, smtp)[-1] - queued[aid], 3)
                for aid, n in delivered.items() if n and at_peer(channel, aid, slack, smtp)),
            "dead_letter_seconds": sorted(round(at - queued[aid], 3)
                                          for aid, _, _, at in dead),
            "attempts": len(calls),
            "failed_attempt_seconds": [round(c.end - c.start, 3) for c in failures][:6],
            "retry_deadline_seconds": DEADLINE,
            "scenario_seconds": round(scenario_seconds, 3),
        }
        rows[channel] = row
        record(STEM, row)
    healthy_latencies = [x for c in HEALTHY for x in rows[c]["latency_seconds"]]
    healthy_max = max(healthy_latencies, default=None)
    trouble = {"slack-429 recovered": rows["slack-429"]["recovery_seconds"],
               **{f"{c} dead-lettered": max(rows[c]["dead_letter_seconds"], default=None)
                  for c in ("mail-hang", "hook-timeout")}}
    record(STEM, {
        "fault": "healthy-channels-while-others-fail",
        "what_happened": (
            f"{len(healthy_latencies)} of {len(HEALTHY) * ALERTS} healthy deliveries, the "
            f"slowest {healthy_max}s after queueing, while "
            + ", ".join(f"{what} after {seconds}s" for what, seconds in trouble.items())),
        "items_lost": sum(rows[c]["items_lost"] for c in HEALTHY),
        "duplicates": sum(rows[c]["duplicates"] for c in HEALTHY),
        "recovery_seconds": None,
        "max_healthy_latency_seconds": healthy_max,
        "trouble_seconds": trouble,
        "scenario_seconds": round(scenario_seconds, 3),
    })
    expected_letters = sum(ALERTS for c in CHANNELS if CHANNELS[c][1] == "failed")
    letters = await read_dlq(broker.bootstrap, dlq.topic, expected=expected_letters)

    # Every alert ends sent or dead-lettered on each channel, once; nothing is left queued.
    for (aid, channel), state in states.items():
        fault, outcome, reason = CHANNELS[channel]
        assert state == f"failed {reason}" if outcome == "failed" else (
            state or "").startswith("sent "), (aid, channel, state)
    assert backlog == {c: 0 for c in CHANNELS}, backlog
    for channel, (fault, outcome, reason) in CHANNELS.items():
        row = rows[channel]
        assert (row["items_lost"], row["duplicates"]) == (0, 0), (fault, row)
        received = {a.alert_id: len(at_peer(channel, a.alert_id, slack, smtp)) for a in alerts}
        calls = {a.alert_id: len(traced[channel].of(a.alert_id)) for a in alerts}
        if outcome == "sent":
            ok = {a.alert_id: sum(c.outcome == "ok" for c in traced[channel].of(a.alert_id))
                  for a in alerts}
            assert ok == {a.alert_id: 1 for a in alerts}, f"{channel}: exactly once each"
            # The peer saw exactly that: one accepted mail, or one request per attempt.
            assert received == (ok if channel in smtp else calls), (channel, received)
            assert dlq.of(channel) == []
        else:
            assert sorted((aid, r) for aid, _, r, _ in dlq.of(channel)) == sorted(
                (a.alert_id, reason) for a in alerts), channel
    assert sorted((d["alert_id"], d["channel"], d["reason"], d["stage"]) for d in letters) == (
        sorted((aid, c, r, "deliver") for aid, c, r, _ in dlq.letters)), "news.dlq.v1"
    assert dead_lettered == {c: ALERTS for c in dead_lettered}, dead_lettered  # the metric

    # Healthy channels: each alert within HEALTHY_LATENCY of being queued, the first one while
    # the others were still in trouble (a Retry-After wait, two hangs), not after.
    assert healthy_max is not None and healthy_max < HEALTHY_LATENCY, {
        c: rows[c]["latency_seconds"] for c in HEALTHY}
    trouble_ends = min(
        traced["slack-429"].of(first)[-1].start,  # the retry, once Retry-After has passed
        *(at for aid, c, _, at in dlq.letters if aid == first and c in ("mail-hang",
                                                                         "hook-timeout")))
    for channel in HEALTHY:
        assert at_peer(channel, first, slack, smtp)[0] < trouble_ends, channel

    # 429: the retry waits out Retry-After, on that channel only, then goes through.
    limited = traced["slack-429"].of(first)
    assert [c.outcome for c in limited] == ["rate_limited", "ok"]
    assert RETRY_AFTER - 0.05 <= limited[1].start - limited[0].end <= RETRY_AFTER + 1.2
    assert retried[("slack-429", "rate_limited")] == 1
    # 5xx: retried with backoff (Slack's 1 s pace, or the jittered delay if longer), then
    # delivered; the channel's later alerts follow in order.
    flaky = traced["slack-5xx"].of(first)
    assert [c.outcome for c in flaky] == ["http_500"] * SLACK_5XX + ["ok"]
    for attempt, (a, b) in enumerate(zip(flaky, flaky[1:], strict=False), start=1):
        cap = min(POLICY.max_delay, POLICY.first_delay * 2 ** (attempt - 1))
        assert 1.0 - 0.05 <= b.start - a.start <= max(1.0, a.end - a.start + cap) + 0.5
    assert retried[("slack-5xx", "http_500")] == SLACK_5XX
    # SMTP 4xx: retried after a jittered backoff (at most 0.5 s, then 1 s), then accepted.
    assert retried[("mail-4xx", "smtp_451")] == SMTP_4XX
    for alert in alerts:
        calls = traced["mail-4xx"].of(alert.alert_id)
        assert calls[-1].outcome == "ok" and {c.outcome for c in calls[:-1]} <= {"smtp_451"}
        for attempt, (a, b) in enumerate(zip(calls, calls[1:], strict=False), start=1):
            assert 0 <= b.start - a.end <= POLICY.first_delay * 2 ** (attempt - 1) + 0.5
    # Permanent errors (Slack 4xx strings, SMTP 5xx): one attempt each, dead-lettered at once.
    for channel in ("slack-gone", "slack-api-bad-token", "mail-5xx"):
        assert [c.outcome for c in traced[channel].calls] == [CHANNELS[channel][2]] * ALERTS
    assert max(rows["mail-5xx"]["dead_letter_seconds"]) < HEALTHY_LATENCY
    # Hangs: every attempt ends at its timeout, is retried with backoff until the deadline,
    # then dead-lettered: never stuck, never given up before a retry.
    assert len(silent.connections) == len(traced["mail-hang"].calls)
    for channel, timeout in (("mail-hang", SMTP_TIMEOUT), ("hook-timeout", WEBHOOK_TIMEOUT)):
        for alert in alerts:
            calls = traced[channel].of(alert.alert_id)
            assert len(calls) >= 2 and {c.outcome for c in calls} == {"timeout"}, channel
            assert all(timeout - 0.1 <= c.end - c.start <= timeout + 1.0 for c in calls)
            assert calls[-1].start - calls[0].start <= DEADLINE + 0.2, channel  # none after
        first_letter = min(at for aid, c, _, at in dlq.letters if aid == first and c == channel)
        assert 2 * timeout - 0.1 <= first_letter - queued[first] <= DEADLINE + timeout + 1.5


# --- a burst while one channel hangs -------------------------------------------------------------

BURST = SLOTS + 2  # alerts waiting for a webhook that hangs
LATER = 4  # alerts for a healthy mailbox, queued once the webhook's deliveries hang


@pytest.mark.slow
async def test_a_burst_to_a_hanging_channel_does_not_hold_up_a_healthy_one(
        redis_client: aioredis.Redis, unique: str, dlq: DeadLetters, slack: SlackPeer,
        session: aiohttp.ClientSession, smtp_peers: dict[str, SmtpPeer]) -> None:
    mailbox = smtp_peers["healthy"]
    slack.script("/webhook/hook-timeout", *[hang(60)] * 10 * BURST)
    built, pace = build([{"smtp": smtp_block(SmtpPeer.host, mailbox.port), "channels": [
        {"id": "mail-healthy", "kind": "email", "to": ["ana@example.com"]},
        {"id": "hook-timeout", "kind": "webhook", "url": slack.webhook_url("hook-timeout"),
         "secret": "s3cret"}]}], session, slack.api_base_url)
    hook = built["hook-timeout"]
    assert isinstance(hook, WebhookNotifier)
    hook.timeout = WEBHOOK_TIMEOUT
    outbox = Outbox(redis_client, prefix=f"{unique}:")
    dispatcher = Dispatcher(outbox, built, dead_letter=dlq, policy=POLICY, pace_seconds=pace,
                            breaker=RETRIES_ALONE)
    hooked = [make_alert(alert_id=f"{unique}-h{n}", subscription_id="sub-crm",
                         title=f"Burst {unique}-h{n}", channels=["hook-timeout"],
                         created_at=datetime.now(UTC)) for n in range(BURST)]
    mailed = [make_alert(alert_id=f"{unique}-m{n}", subscription_id="sub-ana",
                         title=f"Later {unique}-m{n}", channels=["mail-healthy"],
                         created_at=datetime.now(UTC)) for n in range(LATER)]
    for alert in hooked:  # a backlog for the webhook (one take, as after a restart)
        await outbox.enqueue(alert)
    started = time.monotonic()
    async with Running(dispatcher):
        await slack.wait_for_requests(SLOTS, timeout=5)  # the webhook's deliveries now hang
        queued = time.monotonic()
        for alert in mailed:
            await outbox.enqueue(alert)

        async def all_final() -> bool:
            states = [await outbox.state(a.alert_id, a.channels[0]) for a in hooked + mailed]
            return all(final(state) for state in states)

        await eventually(all_final, "every alert sent or dead-lettered",
                         timeout=(BURST / SLOTS + 1) * (DEADLINE + 2 * WEBHOOK_TIMEOUT) + 10,
                         interval=0.05)
    latencies = sorted(m.arrived - queued for m in mailbox.messages)
    late = [x for x in latencies if x >= HEALTHY_LATENCY]
    letters = sorted(at - started for *_, at in dlq.of("hook-timeout"))
    received = [m.message["X-Wirewatch-Alert-Id"] for m in mailbox.messages]
    record(STEM, {
        "fault": "burst-while-a-webhook-hangs",
        "what_happened": (
            f"{BURST} alerts hanging on a webhook (dead-lettered after {letters[0]:.1f}-"
            f"{letters[-1]:.1f}s), then {LATER} for a healthy mailbox: {len(latencies) - len(late)}"
            f" delivered within {HEALTHY_LATENCY:g}s, {len(late)} waited for a delivery slot "
            f"until {max(latencies, default=0):.1f}s"),
        "items_lost": LATER - len(set(received)),
        "duplicates": len(received) - len(set(received)),
        "recovery_seconds": round(max(latencies), 3) if late else None,
        "healthy_latency_seconds": [round(x, 3) for x in latencies],
        "healthy_late": len(late),
        "slots_per_channel": SLOTS,
        "retry_deadline_seconds": DEADLINE,
    })
    if sorted(received) != sorted(a.alert_id for a in mailed) or len(letters) != BURST:
        pytest.fail(f"mailbox got {received}, {len(letters)} of {BURST} dead letters")
    assert late == [], f"{len(late)} of {LATER} healthy alerts waited up to {max(late):.1f}s"

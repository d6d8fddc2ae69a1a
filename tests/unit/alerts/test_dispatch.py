"""Outbox and dispatcher on a real Redis: queued once, sent once, retried, dead-lettered,
channels independent, and a crash between send and ledger write repeats at most one alert."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis
from wirewatch.alerts.breaker import BreakerPolicy, CircuitBreaker
from wirewatch.alerts.dispatch import Dispatcher, RetryPolicy
from wirewatch.alerts.errors import NotifierError
from wirewatch.alerts.outbox import Outbox, Pending
from wirewatch.alerts.records import Alert, encode_alert
from wirewatch.alerts.subscriptions import Schedule

from tests.support.alerts import make_alert

NOW = 1_790_000_000.0  # a fixed Unix time, well inside one hour

FAST = RetryPolicy(first_delay=0.01, max_delay=0.05, deadline=2.0)
NEVER_OPENS = BreakerPolicy(failures_to_open=1_000_000)  # the retry deadline alone


class Recorder:
    """A notifier that runs a script of outcomes (an exception or a reference), then succeeds."""

    def __init__(self, *script: NotifierError | str) -> None:
        self.script = list(script)
        self.calls: list[tuple[Alert, str | None, float]] = []
        self.sent = asyncio.Condition()

    async def notify(self, alert: Alert, thread: str | None = None) -> str | None:
        self.calls.append((alert, thread, time.monotonic()))
        outcome = self.script.pop(0) if self.script else f"ref-{alert.alert_id}"
        if isinstance(outcome, NotifierError):
            raise outcome
        async with self.sent:
            self.sent.notify_all()
        return outcome

    async def wait_for_calls(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            async with self.sent:
                await self.sent.wait_for(lambda: len(self.calls) >= count)


class DeadLetters(list[tuple[str, str, str]]):
    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    async def __call__(self, alert: Alert, channel: str, reason: str, detail: str) -> None:
        self.append((alert.alert_id, channel, reason))
        self.arrived.set()


@pytest.fixture
def outbox(redis_client: aioredis.Redis, unique: str) -> Outbox:
    return Outbox(redis_client, prefix=f"{unique}:")


async def take_one(outbox: Outbox, channel: str, consumer: str = "c1",
                   reclaim_idle_ms: int = 60_000) -> Pending:
    await outbox.ensure_group(channel)
    (pending,) = await outbox.take(channel, consumer, block_ms=100,
                                   reclaim_idle_ms=reclaim_idle_ms)
    return pending


async def test_enqueue_is_idempotent_and_follows_the_ledger(outbox: Outbox) -> None:
    alert = make_alert(channels=["slack", "mail"])
    assert await outbox.enqueue(alert) == ["slack", "mail"]
    assert await outbox.enqueue(alert) == []  # a replay of the same alert
    pending = await take_one(outbox, "slack")
    await outbox.record_sent(pending, "ts-1", now=NOW)
    failed = await take_one(outbox, "mail")
    await outbox.record_failed(failed, "http_404")
    assert await outbox.enqueue(alert) == ["mail"]  # failed may be tried again, sent never
    assert await outbox.reference(alert.alert_id, "slack") == "ts-1"


async def test_recording_a_send_writes_the_ledger_acknowledges_and_counts(
        outbox: Outbox, redis_client: aioredis.Redis) -> None:
    alert = make_alert(channels=["slack"])
    await outbox.enqueue(alert)
    pending = await take_one(outbox, "slack")
    await outbox.record_sent(pending, "ts-9", now=NOW)
    assert await outbox.was_sent(alert.alert_id, "slack")
    stream = f"{outbox.prefix}outbox:slack"
    assert await redis_client.xlen(stream) == 0  # acknowledged and deleted
    assert (await redis_client.xpending(stream, "delivery"))["pending"] == 0
    assert await outbox.sent_this_hour(alert.subscription_id, NOW) == 1
    assert await outbox.sent_this_hour(alert.subscription_id, NOW + 3600) == 0
    hour_key = f"{outbox.prefix}sent-hour:{alert.subscription_id}:{int(NOW // 3600)}"
    assert 0 < await redis_client.ttl(hour_key) <= 7200  # the count outlives its hour, then goes
    # The same call again (a retry after Redis applied it but the reply was lost) leaves the
    # ledger sent and the count at one: a lost reply must not eat into the rate cap.
    await outbox.record_sent(pending, "ts-9", now=NOW)
    assert await outbox.reference(alert.alert_id, "slack") == "ts-9"
    assert await outbox.sent_this_hour(alert.subscription_id, NOW) == 1


async def test_sent_once_then_skipped(outbox: Outbox) -> None:
    notifier, dead = Recorder(), DeadLetters()
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=dead, policy=FAST)
    await outbox.enqueue(make_alert())
    assert await dispatcher.deliver(await take_one(outbox, "console")) == "sent"
    assert (await outbox.state("a1", "console") or "").startswith("sent ")
    # The same alert handed out again (say, reclaimed after a slow ack) is not re-sent.
    await outbox.client.xadd(f"{outbox.prefix}outbox:console",
                             {"alert": encode_alert(make_alert())})
    assert await dispatcher.deliver(await take_one(outbox, "console")) == "skipped"
    assert len(notifier.calls) == 1 and dead == []


async def test_rate_limit_honours_retry_after_then_sends(outbox: Outbox) -> None:
    notifier = Recorder(NotifierError("429", retryable=True, retry_after=0.2,
                                      reason="rate_limited"))
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=DeadLetters(),
                            policy=FAST)
    await outbox.enqueue(make_alert())
    assert await dispatcher.deliver(await take_one(outbox, "console")) == "sent"
    (_, _, first), (_, _, second) = notifier.calls
    assert second - first >= 0.2


async def test_permanent_failure_is_dead_lettered_with_its_reason(outbox: Outbox) -> None:
    dead = DeadLetters()
    notifier = Recorder(NotifierError("404 channel_not_found", retryable=False,
                                      reason="channel_not_found"))
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=dead, policy=FAST)
    await outbox.enqueue(make_alert())
    assert await dispatcher.deliver(await take_one(outbox, "console")) == "dead"
    assert dead == [("a1", "console", "channel_not_found")] and len(notifier.calls) == 1
    assert await outbox.state("a1", "console") == "failed channel_not_found"


async def test_retryable_failures_stop_at_the_deadline(outbox: Outbox) -> None:
    dead = DeadLetters()
    always = [NotifierError("500", retryable=True, reason="http_500") for _ in range(1000)]
    dispatcher = Dispatcher(outbox, {"console": Recorder(*always)}, dead_letter=dead,
                            policy=RetryPolicy(first_delay=0.01, max_delay=0.02, deadline=0.3),
                            breaker=NEVER_OPENS)
    await outbox.enqueue(make_alert())
    started = time.monotonic()
    assert await dispatcher.deliver(await take_one(outbox, "console")) == "dead"
    assert 0.2 < time.monotonic() - started < 2.0 and dead[0][2] == "http_500"


async def test_a_rate_limited_channel_does_not_hold_up_the_others(outbox: Outbox) -> None:
    slow = Recorder(NotifierError("429", retryable=True, retry_after=30, reason="rate_limited"))
    fast = Recorder()
    dispatcher = Dispatcher(outbox, {"slack": slow, "mail": fast}, dead_letter=DeadLetters(),
                            policy=RetryPolicy(deadline=60), pace_seconds={"slack": 0.01})
    for number in range(3):
        await outbox.enqueue(make_alert(alert_id=f"a{number}", channels=["slack", "mail"]))
    runner = asyncio.create_task(dispatcher.run())
    try:
        await fast.wait_for_calls(3)  # all three mails went out while Slack waits 30 s
        assert len(slow.calls) == 1
    finally:
        dispatcher.stop()
        await asyncio.wait_for(runner, 5)  # the waiting Slack retry is cut short
    assert await outbox.state("a0", "slack") == "queued"  # left pending for the next run


async def test_a_failing_channel_is_paused_and_probed_then_delivers_everything(
        outbox: Outbox) -> None:
    """Five alerts to a channel failing 6 times in a row: without a breaker each would
    retry on its own (dozens of calls); with it, 3 failures open the circuit, probes follow
    at growing pauses, and once the channel answers every alert goes out, none lost."""
    failing = Recorder(*[NotifierError("503", retryable=True, reason="http_503")
                         for _ in range(6)])
    changes: list[str] = []

    async def on_circuit(channel: str, breaker: CircuitBreaker) -> None:
        changes.append(breaker.state)

    dead = DeadLetters()
    dispatcher = Dispatcher(
        outbox, {"hook": failing}, dead_letter=dead, on_circuit=on_circuit,
        policy=RetryPolicy(first_delay=0.01, max_delay=0.02, deadline=0.5),
        breaker=BreakerPolicy(failures_to_open=3, open_seconds=0.1, max_open_seconds=0.4))
    for number in range(5):
        await outbox.enqueue(make_alert(alert_id=f"a{number}", channels=["hook"]))
    runner = asyncio.create_task(dispatcher.run())
    try:
        await failing.wait_for_calls(6 + 5, timeout=20)  # the failures, then five sends
    finally:
        dispatcher.stop()
        await asyncio.wait_for(runner, 5)
    assert dead == []  # waiting on an open circuit never ran out a retry deadline
    assert len(failing.calls) == 11  # 3 to open, 3 failed probes, 5 sends: no storm
    for number in range(5):
        state = await outbox.state(f"a{number}", "hook") or ""
        assert state.startswith("sent ") and state.endswith(f" ref-a{number}")
    assert changes == ["open", "half-open", "open", "half-open", "open", "half-open",
                       "open", "half-open", "closed"]
    gaps = [b[2] - a[2] for a, b in zip(failing.calls[2:6], failing.calls[3:7], strict=True)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4  # doubled, then capped


async def test_a_channel_that_answers_keeps_its_circuit_closed(outbox: Outbox) -> None:
    """A 429 or a refused payload is an answer: the channel is alive, nothing is paused."""
    answers = Recorder(*[NotifierError("429", retryable=True, retry_after=0.01,
                                       reason="rate_limited") for _ in range(6)],
                       *[NotifierError("400 invalid_blocks", retryable=False,
                                       reason="invalid_blocks") for _ in range(6)])
    dispatcher = Dispatcher(outbox, {"console": answers}, dead_letter=DeadLetters(),
                            policy=FAST, breaker=BreakerPolicy(failures_to_open=2))
    for number in range(7):
        await outbox.enqueue(make_alert(alert_id=f"a{number}"))
        await dispatcher.deliver(await take_one(outbox, "console"))
    assert dispatcher.breakers["console"].state == "closed"


async def test_crash_between_send_and_ledger_repeats_at_most_once(outbox: Outbox) -> None:
    await outbox.enqueue(make_alert())
    notifier = Recorder()
    # Worker 1 takes the alert and sends it, then dies before writing the ledger.
    crashed = await take_one(outbox, "console", consumer="worker-1")
    await notifier.notify(crashed.alert)
    # Worker 2 reclaims what worker 1 left pending, finds it not recorded, sends it again.
    survivor = Dispatcher(outbox, {"console": notifier}, dead_letter=DeadLetters(),
                          policy=FAST, reclaim_idle_seconds=0.0)
    reclaimed = await take_one(outbox, "console", consumer="worker-2", reclaim_idle_ms=0)
    assert reclaimed.alert.alert_id == "a1"
    assert await survivor.deliver(reclaimed) == "sent"
    assert len(notifier.calls) == 2  # one duplicate, nothing lost
    assert await outbox.enqueue(make_alert()) == []  # and a replay sends nothing more
    await outbox.ensure_group("console")
    assert await outbox.take("console", "worker-3", block_ms=50, reclaim_idle_ms=0) == []


async def test_updates_reply_in_the_first_alerts_thread(outbox: Outbox) -> None:
    notifier = Recorder("1700000000.000100")
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=DeadLetters(),
                            policy=FAST)
    await outbox.enqueue(make_alert())
    await dispatcher.deliver(await take_one(outbox, "console"))
    await outbox.enqueue(make_alert(alert_id="a1-u1", is_update=True, thread_of="a1"))
    await dispatcher.deliver(await take_one(outbox, "console"))
    assert [thread for _, thread, _ in notifier.calls] == [None, "1700000000.000100"]


async def test_pace_spaces_sends_on_a_channel(outbox: Outbox) -> None:
    notifier = Recorder()
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=DeadLetters(),
                            policy=FAST, pace_seconds={"console": 0.2})
    for number in range(3):
        await outbox.enqueue(make_alert(alert_id=f"p{number}"))
    await outbox.ensure_group("console")
    for pending in await outbox.take("console", "c", block_ms=100):
        await dispatcher.deliver(pending)
    times = [at for _, _, at in notifier.calls]
    assert len(times) == 3 and all(b - a >= 0.19 for a, b in zip(times, times[1:], strict=False))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


PARIS = ZoneInfo("Europe/Paris")


def scheduled(schedule: Schedule) -> Callable[[str], Awaitable[Schedule | None]]:
    async def schedule_of(subscription_id: str) -> Schedule | None:
        return schedule

    return schedule_of


async def deliver_all(outbox: Outbox, dispatcher: Dispatcher) -> list[str]:
    await outbox.ensure_group("console")
    return [await dispatcher.deliver(p) for p in await outbox.take("console", "c", block_ms=50)]


async def test_a_daily_digest_collects_alerts_into_one_message(outbox: Outbox) -> None:
    clock = Clock(datetime(2026, 3, 2, 10, 0, tzinfo=PARIS))
    notifier = Recorder()
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=DeadLetters(),
                            policy=FAST, clock=clock, schedule_of=scheduled(
                                Schedule(mode="daily", at="08:00", timezone="Europe/Paris")))
    for number in range(3):
        await outbox.enqueue(make_alert(alert_id=f"d{number}", story_id=f"story-{number}",
                                        title=f"Story {number}"))
    assert await deliver_all(outbox, dispatcher) == ["held"] * 3
    clock.now = datetime(2026, 3, 3, 7, 59, tzinfo=PARIS)
    assert await dispatcher.release_due("console") == 0 and notifier.calls == []
    clock.now = datetime(2026, 3, 3, 8, 0, tzinfo=PARIS)
    assert await dispatcher.release_due("console") == 1
    (digest, _, _), = notifier.calls
    assert [item.title for item in digest.digest] == ["Story 0", "Story 1", "Story 2"]
    assert digest.title == "3 stories for OpenAI"
    for number in range(3):
        assert (await outbox.state(f"d{number}", "console") or "").startswith("sent ")
    assert await outbox.held("console") == 0
    # One message went out, so the subscription's rate cap counts one, not three or none.
    assert await outbox.sent_this_hour(digest.subscription_id, clock.now.timestamp()) == 1
    assert await dispatcher.release_due("console") == 0  # nothing twice


async def test_quiet_hours_hold_an_alert_until_they_end(outbox: Outbox) -> None:
    clock = Clock(datetime(2026, 3, 2, 23, 30, tzinfo=PARIS))
    notifier = Recorder()
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=DeadLetters(),
                            policy=FAST, clock=clock, schedule_of=scheduled(
                                Schedule(timezone="Europe/Paris",
                                         quiet_hours=("22:00", "07:00"))))
    await outbox.enqueue(make_alert())
    assert await deliver_all(outbox, dispatcher) == ["held"]
    clock.now = datetime(2026, 3, 3, 7, 0, tzinfo=PARIS)
    assert await dispatcher.release_due("console") == 1
    (alert, _, _), = notifier.calls
    assert alert.alert_id == "a1" and alert.digest == []  # one alert: sent as itself


async def test_rate_cap_holds_the_excess_for_the_next_hour(outbox: Outbox) -> None:
    clock = Clock(datetime(2026, 3, 2, 10, 15, tzinfo=PARIS))
    notifier = Recorder()
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=DeadLetters(),
                            policy=FAST, clock=clock, schedule_of=scheduled(
                                Schedule(timezone="Europe/Paris", rate_cap_per_hour=2)))
    for number in range(4):
        await outbox.enqueue(make_alert(alert_id=f"r{number}", story_id=f"s{number}"))
    assert await deliver_all(outbox, dispatcher) == ["sent", "sent", "held", "held"]
    clock.now = datetime(2026, 3, 2, 11, 0, tzinfo=PARIS)
    assert await dispatcher.release_due("console") == 1
    assert len(notifier.calls) == 3 and len(notifier.calls[2][0].digest) == 2


async def test_a_notifier_bug_is_dead_lettered_and_the_worker_keeps_going(
        outbox: Outbox) -> None:
    class Broken:
        async def notify(self, alert: Alert, thread: str | None = None) -> str | None:
            raise KeyError("oops")

    dead, fine = DeadLetters(), Recorder()
    dispatcher = Dispatcher(outbox, {"console": Broken(), "mail": fine}, dead_letter=dead,
                            policy=FAST)
    await outbox.enqueue(make_alert(channels=["console", "mail"]))
    runner = asyncio.create_task(dispatcher.run())
    try:
        await fine.wait_for_calls(1)
        await asyncio.wait_for(dead.arrived.wait(), 5)
    finally:
        dispatcher.stop()
        await asyncio.wait_for(runner, 5)
    assert dead == [("a1", "console", "internal_error")]


async def test_a_burst_is_grouped_then_paced_by_the_group_interval(outbox: Outbox) -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
    clock = Clock(start)
    notifier = Recorder()
    dispatcher = Dispatcher(outbox, {"console": notifier}, dead_letter=DeadLetters(),
                            policy=FAST, clock=clock, schedule_of=scheduled(Schedule(
                                group_wait_seconds=30, group_interval_seconds=300)))
    for number in range(3):  # a burst: three stories within seconds
        await outbox.enqueue(make_alert(alert_id=f"g{number}", story_id=f"s{number}"))
    assert await deliver_all(outbox, dispatcher) == ["held"] * 3
    clock.now = start + timedelta(seconds=29)
    assert await dispatcher.release_due("console") == 0
    clock.now = start + timedelta(seconds=30)
    assert await dispatcher.release_due("console") == 1
    assert len(notifier.calls[0][0].digest) == 3  # one message for the burst
    # The next story within the group interval waits for it; then goes alone.
    clock.now = start + timedelta(seconds=40)
    await outbox.enqueue(make_alert(alert_id="g3", story_id="s3"))
    assert await deliver_all(outbox, dispatcher) == ["held"]
    clock.now = start + timedelta(seconds=329)
    assert await dispatcher.release_due("console") == 0
    clock.now = start + timedelta(seconds=330)
    assert await dispatcher.release_due("console") == 1
    assert notifier.calls[1][0].alert_id == "g3" and notifier.calls[1][0].digest == []


async def test_requeue_sends_a_dead_letter_to_its_one_channel_again(outbox: Outbox) -> None:
    dead = DeadLetters()
    failing = Recorder(NotifierError("404", retryable=False, reason="http_404"))
    dispatcher = Dispatcher(outbox, {"hook": failing, "mail": Recorder()}, dead_letter=dead,
                            policy=FAST)
    alert = make_alert(channels=["hook", "mail"])
    await outbox.enqueue(alert)
    assert await dispatcher.deliver(await take_one(outbox, "hook")) == "dead"
    assert await dispatcher.deliver(await take_one(outbox, "mail")) == "sent"

    assert await outbox.requeue(alert, "hook")  # the webhook is fixed: send it back
    assert await outbox.state(alert.alert_id, "hook") == "queued"
    assert await dispatcher.deliver(await take_one(outbox, "hook")) == "sent"
    await outbox.ensure_group("mail")
    assert await outbox.take("mail", "c1", block_ms=10) == []  # the other channel: untouched
    # Sent is final: a second requeue queues nothing and leaves the ledger as it is.
    assert not await outbox.requeue(alert, "hook")
    assert (await outbox.state(alert.alert_id, "hook") or "").startswith("sent ")
    assert await outbox.take("hook", "c1", block_ms=10) == []
    assert [a.alert_id for a, _, _ in failing.calls] == ["a1", "a1"]


async def test_requeue_replaces_a_queued_entry(outbox: Outbox) -> None:
    alert = make_alert()
    await outbox.enqueue(alert)
    assert await outbox.enqueue(alert) == []  # the pipeline drops a repeat
    assert await outbox.requeue(alert, "console")  # an operator's request does not
    await outbox.ensure_group("console")
    assert len(await outbox.take("console", "c1", block_ms=10)) == 2

"""deliver(): the ledger makes delivery at-most-once per channel; retries follow the policy."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from alerts.delivery import DeliveryOutcome, RetryPolicy, deliver, send_with_retry
from alerts.errors import NotifierError
from alerts.ledger import DeliveryLedger
from alerts.records import Alert

pytestmark = pytest.mark.redis

FAST = RetryPolicy(first_delay=0.001, max_delay=0.01, deadline=5.0)


class FakeNotifier:
    """Stands in for a channel: raises the queued errors in turn, then succeeds."""

    def __init__(self, *errors: NotifierError) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.delivered: list[str] = []

    async def notify(self, alert: Alert) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        self.delivered.append(alert.alert_id)


def make_alert(alert_id: str, channels: tuple[str, ...] = ("console",)) -> Alert:
    return Alert(alert_id=alert_id, subscription_id="s", subscription_name="S", owner="",
                 channels=list(channels), story_id="st", article_id="ar", title="T",
                 url="https://example.com", source="x", topics=[], entities=[],
                 created_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def ledger(redis_client: aioredis.Redis, unique: str) -> DeliveryLedger:
    return DeliveryLedger(redis_client, prefix=f"{unique}:")


async def test_deliver_sends_once_then_skips(ledger: DeliveryLedger, unique: str) -> None:
    notifier = FakeNotifier()
    alert = make_alert(f"a-{unique}")
    assert not await ledger.was_sent(alert.alert_id, "console")

    first = await deliver(alert, {"console": notifier}, ledger, FAST)
    assert first == [DeliveryOutcome("console", "sent", attempts=1)]
    assert await ledger.was_sent(alert.alert_id, "console")

    second = await deliver(alert, {"console": notifier}, ledger, FAST)
    assert second == [DeliveryOutcome("console", "skipped")]
    assert notifier.delivered == [alert.alert_id]


async def test_ledger_is_per_channel_and_prefix(
        redis_client: aioredis.Redis, ledger: DeliveryLedger, unique: str) -> None:
    await ledger.record_sent("a", "console")
    assert await ledger.was_sent("a", "console")
    assert not await ledger.was_sent("a", "console:stderr")
    assert not await ledger.was_sent("b", "console")
    other = DeliveryLedger(redis_client, prefix=f"{unique}-other:")
    assert not await other.was_sent("a", "console")


async def test_deliver_handles_each_channel(ledger: DeliveryLedger, unique: str) -> None:
    alert = make_alert(f"a-{unique}", channels=("console", "console:stderr", "console:x"))
    await ledger.record_sent(alert.alert_id, "console")
    stderr = FakeNotifier()
    outcomes = await deliver(alert, {"console": FakeNotifier(), "console:stderr": stderr},
                             ledger, FAST)
    assert outcomes == [
        DeliveryOutcome("console", "skipped"),
        DeliveryOutcome("console:stderr", "sent", attempts=1),
        DeliveryOutcome("console:x", "failed", "no notifier for 'console:x'"),
    ]
    assert stderr.delivered == [alert.alert_id]
    assert not await ledger.was_sent(alert.alert_id, "console:x")


async def test_retryable_errors_are_retried(ledger: DeliveryLedger, unique: str) -> None:
    notifier = FakeNotifier(NotifierError("busy", retryable=True),
                            NotifierError("still busy", retryable=True))
    alert = make_alert(f"a-{unique}")
    outcomes = await deliver(alert, {"console": notifier}, ledger,
                             RetryPolicy(first_delay=0.001))
    assert outcomes == [DeliveryOutcome("console", "sent", attempts=3)]
    assert notifier.calls == 3
    assert await ledger.was_sent(alert.alert_id, "console")


async def test_non_retryable_error_fails_and_records_nothing(
        ledger: DeliveryLedger, unique: str) -> None:
    notifier = FakeNotifier(NotifierError("bad address", retryable=False))
    alert = make_alert(f"a-{unique}")
    outcomes = await deliver(alert, {"console": notifier}, ledger, FAST)
    assert outcomes == [DeliveryOutcome("console", "failed", "bad address")]
    assert notifier.calls == 1
    assert not await ledger.was_sent(alert.alert_id, "console")
    # a later replay tries again, since nothing was recorded
    again = await deliver(alert, {"console": notifier}, ledger, FAST)
    assert again == [DeliveryOutcome("console", "sent", attempts=1)]


async def test_retry_after_is_honoured(unique: str) -> None:
    notifier = FakeNotifier(NotifierError("slow down", retryable=True, retry_after=0.05))
    started = time.monotonic()
    assert await send_with_retry(notifier, make_alert(unique), FAST) == 2
    assert time.monotonic() - started >= 0.045


async def test_retry_after_beyond_the_deadline_fails_at_once(
        ledger: DeliveryLedger, unique: str) -> None:
    notifier = FakeNotifier(NotifierError("come back in an hour", retryable=True,
                                          retry_after=3600.0))
    alert = make_alert(f"a-{unique}")
    started = time.monotonic()
    outcomes = await deliver(alert, {"console": notifier}, ledger,
                             RetryPolicy(first_delay=0.001, deadline=0.5))
    assert time.monotonic() - started < 0.5
    assert outcomes == [DeliveryOutcome("console", "failed", "come back in an hour")]
    assert notifier.calls == 1
    assert not await ledger.was_sent(alert.alert_id, "console")


async def test_retries_stop_at_the_deadline(unique: str) -> None:
    class AlwaysBusy:
        calls = 0

        async def notify(self, alert: Alert) -> None:
            self.calls += 1
            raise NotifierError("busy", retryable=True)

    notifier = AlwaysBusy()
    started = time.monotonic()
    with pytest.raises(NotifierError, match="busy"):
        await send_with_retry(notifier, make_alert(unique),
                              RetryPolicy(first_delay=0.01, max_delay=0.02, deadline=0.2))
    assert time.monotonic() - started < 1.0
    assert notifier.calls > 1

"""Deliver one alert to each of its channels: ledger check, retry with backoff, ledger write."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass

from alerts.errors import NotifierError
from alerts.ledger import DeliveryLedger
from alerts.notifiers import Notifier
from alerts.records import Alert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, stopped by a total deadline."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    deadline: float = 120.0


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened to one alert on one channel."""

    channel: str
    status: str  # "sent", "skipped" (ledger says already sent) or "failed"
    error: str | None = None
    attempts: int = 0


async def send_with_retry(notifier: Notifier, alert: Alert, policy: RetryPolicy) -> int:
    """Call the notifier until it succeeds, fails for good, or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.deadline
    attempt = 0
    last_error = ""
    while True:
        attempt += 1
        try:
            await notifier.notify(alert)
            return attempt
        except NotifierError as exc:
            if str(exc) != last_error:  # log only when the error changes
                log.warning("delivery attempt failed", extra={"alert_id": alert.alert_id,
                                                              "error": str(exc)})
                last_error = str(exc)
            delay = exc.retry_after if exc.retry_after is not None else random.uniform(
                0, min(policy.max_delay, policy.first_delay * 2 ** (attempt - 1)))
            if not exc.retryable or loop.time() + delay > deadline:
                raise
            await asyncio.sleep(delay)


async def deliver(alert: Alert, notifiers: Mapping[str, Notifier], ledger: DeliveryLedger,
                  policy: RetryPolicy = RetryPolicy()) -> list[DeliveryOutcome]:
    """Deliver to every channel of the alert that the ledger has not recorded as sent."""
    outcomes = []
    for channel in alert.channels:
        if await ledger.was_sent(alert.alert_id, channel):
            outcomes.append(DeliveryOutcome(channel, "skipped"))
            continue
        notifier = notifiers.get(channel)
        if notifier is None:
            outcomes.append(DeliveryOutcome(channel, "failed", f"no notifier for {channel!r}"))
            continue
        try:
            attempts = await send_with_retry(notifier, alert, policy)
        except NotifierError as exc:
            outcomes.append(DeliveryOutcome(channel, "failed", str(exc)))
            continue
        await ledger.record_sent(alert.alert_id, channel)
        outcomes.append(DeliveryOutcome(channel, "sent", attempts=attempts))
    return outcomes

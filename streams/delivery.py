"""Delivery wiring: the outbox's alerts to their channels, each outcome to the activity log,
dead letters to the DLQ. The stream worker runs it, or `wirewatch deliver` on its own."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from wirewatch.alerts import metrics as alert_metrics
from wirewatch.alerts.breaker import BreakerPolicy, CircuitBreaker
from wirewatch.alerts.channels import Channels
from wirewatch.alerts.dispatch import Dispatcher, RetryPolicy
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.records import Alert, encode_alert
from wirewatch.alerts.subscriptions import Schedule
from wirewatch.streams.ops.activity import Activity, Circuit

log = logging.getLogger(__name__)

# Sends one record to the DLQ topic: key, value, headers.
SendDeadLetter = Callable[[bytes, bytes, list[tuple[str, bytes]]], Awaitable[Any]]


@dataclass(frozen=True)
class Delivery:
    """What a process needs to deliver the alerts queued in the outbox."""

    outbox: Outbox
    activity: Activity
    channels: Channels
    schedule_of: Callable[[str], Awaitable[Schedule | None]]
    send_dead_letter: SendDeadLetter
    alerts_topic: str  # named in a dead letter as where the alert came from
    retry: RetryPolicy
    dashboard_url: str | None
    slack_api_url: str
    on_delivered: Callable[[Alert], None] | None = None
    breaker: BreakerPolicy = BreakerPolicy()
    instance: str = ""  # this process, named beside the circuit states it reports


async def deliver_until_cancelled(delivery: Delivery) -> None:
    """Run a dispatcher over every configured channel until cancelled."""
    alert_metrics.initialise(delivery.channels.ids)
    pending_records: set[asyncio.Future[Any]] = set()  # delivery log writes in flight

    async def dead_letter(alert: Alert, channel: str, reason: str, detail: str) -> None:
        await delivery.activity.record_delivery(alert, channel, "dead-lettered",
                                                f"{reason}: {detail}")
        await delivery.send_dead_letter(alert.subscription_id.encode(), encode_alert(alert), [
            ("stage", b"deliver"), ("channel", channel.encode()), ("reason", reason.encode()),
            ("error", detail[:1000].encode("utf-8", "replace")),
            ("source_topic", delivery.alerts_topic.encode())])

    def on_sent(alert: Alert, channel: str) -> None:
        # The log write must not delay the next delivery; the set keeps the task alive.
        recorder = asyncio.ensure_future(delivery.activity.record_delivery(alert, channel,
                                                                           "sent"))
        pending_records.add(recorder)
        recorder.add_done_callback(pending_records.discard)
        if delivery.on_delivered is not None:
            delivery.on_delivered(alert)

    async def on_circuit(channel: str, breaker: CircuitBreaker) -> None:
        try:
            await delivery.activity.record_circuit(Circuit(
                channel, breaker.state, time.time(), breaker.failures, breaker.last_error[:300],
                delivery.instance))
        except Exception:  # noqa: BLE001 - the dashboard's copy; delivery goes on
            log.exception("could not record %s's circuit state", channel)

    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(
            delivery.outbox,
            delivery.channels.notifiers(session, dashboard_url=delivery.dashboard_url,
                                        slack_api_url=delivery.slack_api_url),
            dead_letter=dead_letter, policy=delivery.retry,
            pace_seconds=delivery.channels.pace(), on_sent=on_sent,
            schedule_of=delivery.schedule_of, breaker=delivery.breaker,
            on_circuit=on_circuit)
        await dispatcher.run()

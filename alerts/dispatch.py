"""Deliver queued alerts: one worker per channel, so a channel that is rate limited or down
never holds up the others. Each worker paces its channel, retries what a retry can fix
(429 after Retry-After, 5xx and timeouts with backoff and jitter, up to a deadline) and
dead-letters the rest with the reason."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import redis.exceptions
from wirewatch.alerts import metrics
from wirewatch.alerts.breaker import CLOSED, STATE_VALUES, BreakerPolicy, CircuitBreaker
from wirewatch.alerts.errors import NotifierError
from wirewatch.alerts.outbox import Outbox, Pending, sent_value
from wirewatch.alerts.records import Alert, DigestItem
from wirewatch.alerts.subscriptions import Schedule
from wirewatch.alerts.timing import group_release, release_time

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """A delivery channel: sends one alert, returns a message reference (or None)."""

    async def notify(self, alert: Alert, thread: str | None = None) -> str | None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, stopped by a total deadline per alert."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    deadline: float = 300.0

    def delay(self, attempt: int, error: NotifierError) -> float:
        if error.retry_after is not None:
            return error.retry_after
        return random.uniform(0, min(self.max_delay, self.first_delay * 2 ** (attempt - 1)))  # noqa: S311


DeadLetter = Callable[[Alert, str, str, str], Awaitable[None]]  # alert, channel, reason, detail


async def _attempt(channel: str, notifier: Notifier, alert: Alert,
                   thread: str | None) -> str | None:
    """One call of a notifier; anything but a NotifierError is a bug, dead-lettered."""
    try:
        return await notifier.notify(alert, thread)
    except NotifierError:
        raise
    except Exception as exc:  # noqa: BLE001 - a notifier bug must not stop the channel
        log.exception("%s: notifier failed unexpectedly", channel)
        raise NotifierError(f"{channel}: unexpected {type(exc).__name__}: {exc}",
                            retryable=False, reason="internal_error") from exc


def digest_of(alerts: list[Alert], channel: str) -> Alert:
    """One message standing for several alerts of a subscription (a digest or a group).
    Per-event alerts are one line per event (its latest headline and story count), where
    the event's first alert and its updates fell in the same digest."""
    first = min(alerts, key=lambda a: a.created_at)
    items: list[DigestItem] = []
    line_of_event: dict[str, int] = {}
    for a in sorted(alerts, key=lambda a: a.created_at):
        item = DigestItem(alert_id=a.alert_id, story_id=a.story_id, title=a.title, url=a.url,
                          source=a.source, outlets=a.outlets, is_update=a.is_update,
                          event_stories=a.event_stories if a.per_event else 0)
        if a.per_event and a.event_id in line_of_event:
            told = items[line_of_event[a.event_id]]
            items[line_of_event[a.event_id]] = DigestItem(
                alert_id=told.alert_id, story_id=a.story_id, title=a.title, url=a.url,
                source=a.source, outlets=a.outlets, is_update=told.is_update,
                event_stories=max(told.event_stories, item.event_stories))
            continue
        if a.per_event:
            line_of_event[a.event_id] = len(items)
        items.append(item)
    unit = "events" if all(a.per_event for a in alerts) else "stories"
    digest_id = hashlib.blake2b("\x1f".join(sorted(a.alert_id for a in alerts)).encode(),
                                digest_size=12).hexdigest()
    return Alert(
        alert_id=f"digest-{digest_id}", subscription_id=first.subscription_id,
        subscription_name=first.subscription_name, owner=first.owner, channels=[channel],
        story_id=first.story_id, article_id=first.article_id,
        title=f"{len(items)} {unit} for {first.subscription_name}", url=first.url,
        source=first.source,
        topics=sorted({t for a in alerts for t in a.topics}),
        entities=sorted({e for a in alerts for e in a.entities}),
        created_at=first.created_at, outlets=max(a.outlets for a in alerts), digest=items)


class _Stopped(Exception):
    """The dispatcher is stopping: leave the delivery pending for the next run."""


class Pace:
    """At most one send per `interval` seconds on a channel (Slack: about one a second)."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval, self.clock = interval, clock
        self._next = 0.0

    async def wait(self) -> None:
        delay = self._next - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)
        self._next = max(self.clock(), self._next) + self.interval


class Dispatcher:
    """Runs the channel workers of one process; any number of processes may run them."""

    def __init__(self, outbox: Outbox, notifiers: Mapping[str, Notifier], *,
                 dead_letter: DeadLetter, policy: RetryPolicy = RetryPolicy(),
                 pace_seconds: Mapping[str, float] | None = None,
                 reclaim_idle_seconds: float = 60.0,
                 on_sent: Callable[[Alert, str], None] | None = None,
                 schedule_of: Callable[[str], Awaitable[Schedule | None]] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 concurrency: int = 8, breaker: BreakerPolicy = BreakerPolicy(),
                 on_circuit: Callable[[str, CircuitBreaker], Awaitable[None]] | None = None,
                 ) -> None:
        self.outbox, self.notifiers, self.dead_letter = outbox, notifiers, dead_letter
        self.policy, self.on_sent = policy, on_sent
        self.schedule_of, self.clock = schedule_of, clock
        self.reclaim_idle_ms = int(reclaim_idle_seconds * 1000)
        self.consumer = f"worker-{uuid.uuid4().hex[:12]}"
        self._paces = {channel: Pace(seconds, time.monotonic)
                       for channel, seconds in (pace_seconds or {}).items()}
        self._stopping = asyncio.Event()
        self._concurrency = concurrency
        # Per channel: a channel whose deliveries hang or wait out a 429 holds its own
        # slots through every retry, never another channel's.
        self._in_flight = {channel: asyncio.Semaphore(concurrency) for channel in notifiers}
        self._breaker_policy = breaker
        self.breakers = {channel: CircuitBreaker(breaker) for channel in notifiers}
        self._on_circuit = on_circuit  # told of every change of a channel's circuit state
        self._exported: dict[str, str] = {}  # the state last exported, per channel
        for channel in notifiers:
            metrics.CIRCUIT.labels(channel).set(STATE_VALUES[CLOSED])

    def stop(self) -> None:
        """Ask the workers to finish: a delivery waiting to retry is left for the next run."""
        self._stopping.set()

    async def run(self) -> None:
        """Run every channel's worker until `stop()` (or cancellation)."""
        async with asyncio.TaskGroup() as group:
            for channel in self.notifiers:
                group.create_task(self.run_channel(channel), name=f"deliver-{channel}")

    async def run_channel(self, channel: str) -> None:
        await self.outbox.ensure_group(channel)
        failed = False  # the last round failed: what it had taken is still ours to deliver
        while not self._stopping.is_set():
            try:
                await self.release_due(channel)
                taken = await self.outbox.take(channel, self.consumer,
                                               reclaim_idle_ms=self.reclaim_idle_ms,
                                               own_first=failed)
                failed = False
                if channel in self._paces:  # paced (Slack): in order, one at a time
                    for pending in taken:
                        if self._stopping.is_set():
                            return  # unacknowledged: the next run claims it
                        await self.deliver(pending)
                else:  # webhooks and mail: several in flight, a slow one blocks no other
                    results = await asyncio.gather(*(self._deliver_limited(p) for p in taken),
                                                   return_exceptions=True)
                    for result in results:
                        if isinstance(result, BaseException):
                            raise result
            except _Stopped:
                return
            except Exception:  # noqa: BLE001 - Redis down, a bug: log, wait, keep the worker
                # Whatever was taken stays pending in the stream; this worker takes it
                # again first (a dead worker's is claimed by others after reclaim_idle).
                failed = True
                log.exception("%s: delivery worker error; retrying in 5 s", channel)
                try:
                    await self._pause(5.0)
                except _Stopped:
                    return

    async def _deliver_limited(self, pending: Pending) -> str:
        slots = self._in_flight.setdefault(pending.channel, asyncio.Semaphore(self._concurrency))
        async with slots:
            if self._stopping.is_set():
                raise _Stopped
            return await self.deliver(pending)

    async def deliver(self, pending: Pending) -> str:
        """Deliver one queued alert and record the outcome: "sent", "skipped", "held" (for a
        digest, quiet hours or a rate cap) or "dead"."""
        channel, alert = pending.channel, pending.alert
        if await self.outbox.was_sent(alert.alert_id, channel):
            metrics.SKIPPED.labels(channel).inc()
            await self.outbox.acknowledge(pending)
            return "skipped"
        notifier = self.notifiers.get(channel)
        if notifier is None:
            await self._dead(pending, "no_channel", f"no channel named {channel!r} configured")
            return "dead"
        due = await self._due(alert, channel)
        if due is not None:
            await self.outbox.hold(pending, due)
            return "held"
        thread = (await self.outbox.reference(alert.thread_of, channel)
                  if alert.thread_of else None)
        try:
            reference = await self._send(channel, notifier, alert, thread)
        except NotifierError as exc:
            await self._dead(pending, exc.reason, str(exc))
            return "dead"
        now = self.clock().timestamp()
        await self._once_sent(lambda: self.outbox.record_sent(pending, reference, now=now))
        self._observe_sent(channel, [alert])
        return "sent"

    async def _due(self, alert: Alert, channel: str) -> float | None:
        """When a held alert is due (Unix time), or None to send it now."""
        if self.schedule_of is None:
            return None
        schedule = await self.schedule_of(alert.subscription_id)
        if schedule is None or (schedule.mode == "immediate" and not schedule.quiet_hours
                                and not schedule.rate_cap_per_hour
                                and not schedule.group_wait_seconds):
            return None
        now = self.clock()
        count = (await self.outbox.sent_this_hour(alert.subscription_id, now.timestamp())
                 if schedule.rate_cap_per_hour else 0)
        due = release_time(schedule, now, sent_this_hour=count).timestamp()
        if schedule.mode == "immediate" and schedule.group_wait_seconds:
            pending, last = await self.outbox.group_state(channel, alert.subscription_id)
            grouped = group_release(schedule, now.timestamp(), pending=pending, last_sent=last)
            if grouped is not None:
                due = max(due, grouped)
                await self.outbox.group_waits_until(channel, alert.subscription_id, due)
        return due if due > now.timestamp() else None

    async def release_due(self, channel: str) -> int:
        """Send the held alerts that are due, one message per subscription; returns how many
        messages went out (or were dead-lettered)."""
        due = await self.outbox.due(channel, self.clock().timestamp())
        if not due:
            return 0
        groups: dict[str, list[Alert]] = {}
        for alert in due:
            groups.setdefault(alert.subscription_id, []).append(alert)
        notifier = self.notifiers.get(channel)
        for subscription_id, alerts in groups.items():
            fresh = [a for a in alerts if not await self.outbox.was_sent(a.alert_id, channel)]
            if fresh and notifier is not None:
                message = fresh[0] if len(fresh) == 1 else digest_of(fresh, channel)
                try:
                    reference = await self._send(channel, notifier, message, None)
                except NotifierError as exc:
                    await self._dead_letter(channel, fresh, exc.reason, str(exc))
                    for alert in fresh:
                        await self.outbox.mark(alert.alert_id, channel, f"failed {exc.reason}")
                else:
                    value = sent_value(reference)
                    for alert in fresh:
                        await self._once_sent(functools.partial(
                            self.outbox.mark, alert.alert_id, channel, value))
                    now = self.clock().timestamp()
                    await self.outbox.count_sent(subscription_id, now)
                    self._observe_sent(channel, fresh)
                    await self.outbox.group_sent(channel, subscription_id, now)
            await self.outbox.release(channel, alerts)
        return len(groups)

    async def _send(self, channel: str, notifier: Notifier, alert: Alert,
                    thread: str | None) -> str | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.deadline
        pace = self._paces.get(channel)
        breaker = self.breakers.setdefault(channel, CircuitBreaker(self._breaker_policy))
        attempt = 0
        while True:
            attempt += 1
            # While the channel's circuit is open the alert waits, durably queued, and the
            # wait does not count against its retry deadline: it failed no attempt.
            while (wait := breaker.admit()) > 0:
                await self._circuit_changed(channel, breaker)
                deadline += wait
                await self._pause(wait)
            await self._circuit_changed(channel, breaker)
            if pace is not None:
                await pace.wait()
            try:
                reference = await _attempt(channel, notifier, alert, thread)
            except NotifierError as exc:
                if exc.retryable and exc.reason != "rate_limited":
                    breaker.failed(str(exc))
                else:  # it answered: alive, whatever it thought of this message
                    breaker.succeeded()
                await self._circuit_changed(channel, breaker)
                delay = self.policy.delay(attempt, exc)
                if not exc.retryable or loop.time() + delay > deadline:
                    raise
                metrics.RETRIED.labels(channel, exc.reason).inc()
                log.warning("%s: attempt %d failed, retrying in %.1fs: %s", channel, attempt,
                            delay, exc)
                await self._pause(delay)
            else:
                breaker.succeeded()
                await self._circuit_changed(channel, breaker)
                return reference

    async def _circuit_changed(self, channel: str, breaker: CircuitBreaker) -> None:
        """Export a channel's circuit state when it changed (metric, log, the hook)."""
        if self._exported.get(channel, CLOSED) == breaker.state:
            return
        self._exported[channel] = breaker.state
        metrics.CIRCUIT.labels(channel).set(STATE_VALUES[breaker.state])
        if breaker.state == CLOSED:
            log.warning("%s: circuit closed: the channel answers again", channel)
        else:
            log.warning("%s: circuit %s after %d failures in a row: %s", channel,
                        breaker.state, breaker.failures, breaker.last_error)
        if self._on_circuit is not None:
            await self._on_circuit(channel, breaker)

    async def _once_sent(self, record: Callable[[], Awaitable[None]]) -> None:
        """Record a message the channel took, waiting out a Redis outage: given up, the
        entry would stay pending and go out a second time once Redis is back."""
        delay = 0.5
        while True:
            try:
                await record()
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                log.warning("sent, but Redis is unreachable to record it; retrying: %s", exc)
                await self._pause(delay)
                delay = min(delay * 2, 5.0)

    async def _pause(self, seconds: float) -> None:
        """Sleep before a retry, cut short by stop()."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise _Stopped

    def _observe_sent(self, channel: str, alerts: list[Alert]) -> None:
        """What follows a send, once the ledger has it: metrics and the hook."""
        metrics.SENT.labels(channel).inc(len(alerts))
        for alert in alerts:
            metrics.LATENCY.labels(channel).observe(
                max(0.0, (datetime.now(UTC) - alert.created_at).total_seconds()))
            if self.on_sent is not None:
                self.on_sent(alert, channel)

    async def _dead_letter(self, channel: str, alerts: list[Alert], reason: str,
                           detail: str) -> None:
        for alert in alerts:
            log.error("%s: alert %s dead-lettered: %s", channel, alert.alert_id, detail)
            await self.dead_letter(alert, channel, reason, detail)
        metrics.DEAD_LETTERED.labels(channel, reason).inc(len(alerts))

    async def _dead(self, pending: Pending, reason: str, detail: str) -> None:
        await self._dead_letter(pending.channel, [pending.alert], reason, detail)
        await self.outbox.record_failed(pending, reason)

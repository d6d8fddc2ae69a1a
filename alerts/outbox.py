"""The delivery outbox and ledger in Redis: one stream per channel, one ledger key per
(alert, channel). Queueing is idempotent, so a replayed alert is never queued twice.

Ledger values: `queued`, then `sent <unix time> <message ref>` or `failed <reason>`.
A `failed` alert may be queued again (after a fix, by a replay); a `sent` one never.
`requeue` queues a dead-lettered alert on one channel again, `failed` or `queued` alike;
a `sent` one still never.
Stream entries stay pending until the worker has recorded the outcome, so an alert whose
worker died is claimed by another worker and tried again: at most one duplicate (sent,
then the crash before the ledger write), never a lost alert.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from wirewatch.alerts.records import Alert, decode_alert, encode_alert

GROUP = "delivery"
_HOUR_KEY_SECONDS = 7200  # a sent-this-hour count outlives its hour, then goes

# KEYS[1] ledger key, KEYS[2] stream; ARGV[1] ttl seconds, ARGV[2] encoded alert.
_ENQUEUE = """
local state = redis.call('GET', KEYS[1])
if state and string.sub(state, 1, 6) ~= 'failed' then return 0 end
redis.call('SET', KEYS[1], 'queued', 'EX', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'alert', ARGV[2])
return 1
"""

# As _ENQUEUE, but a `queued` entry is replaced too: the operator asked for this one again.
_REQUEUE = """
local state = redis.call('GET', KEYS[1])
if state and string.sub(state, 1, 5) == 'sent ' then return 0 end
redis.call('SET', KEYS[1], 'queued', 'EX', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'alert', ARGV[2])
return 1
"""


# KEYS[1] ledger key, KEYS[2] stream, KEYS[3] sent-this-hour count; ARGV[1] ledger value,
# ARGV[2] its ttl, ARGV[3] group, ARGV[4] entry id, ARGV[5] the count's ttl. A ledger that
# already says `sent ` is this same call repeated after a lost reply: not counted twice.
_RECORD_SENT = """
local state = redis.call('GET', KEYS[1])
if not (state and string.sub(state, 1, 5) == 'sent ') then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
redis.call('XACK', KEYS[2], ARGV[3], ARGV[4])
redis.call('XDEL', KEYS[2], ARGV[4])
return 1
"""


@dataclass(frozen=True)
class Pending:
    """One queued delivery as a worker reads it from its channel's stream."""

    entry_id: str
    channel: str
    alert: Alert


class Outbox:
    """Per-channel queues of alerts to deliver, and the ledger of what happened to each."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 ledger_days: float = 30.0) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = max(1, int(ledger_days * 86400))
        self._enqueue = client.register_script(_ENQUEUE)
        self._requeue = client.register_script(_REQUEUE)
        self._record_sent = client.register_script(_RECORD_SENT)

    def _stream(self, channel: str) -> str:
        return f"{self.prefix}outbox:{channel}"

    def _ledger(self, alert_id: str, channel: str) -> str:
        return f"{self.prefix}ledger:{alert_id}:{channel}"

    async def enqueue(self, alert: Alert) -> list[str]:
        """Queue the alert on each of its channels the ledger has not seen; returns those."""
        (queued,) = await self.enqueue_many([alert])
        return queued

    async def enqueue_many(self, alerts: list[Alert]) -> list[list[str]]:
        """`enqueue` for a batch, in one round trip; each alert's newly queued channels."""
        if not alerts:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for alert in alerts:
                encoded = encode_alert(alert)
                for channel in alert.channels:
                    await self._enqueue(keys=[self._ledger(alert.alert_id, channel),
                                              self._stream(channel)],
                                        args=[self.ttl, encoded], client=pipe)
            flags = iter(await pipe.execute())
        return [[channel for channel in alert.channels if next(flags)] for alert in alerts]

    async def requeue(self, alert: Alert, channel: str) -> bool:
        """Queue the alert on one channel again, in one step with its ledger entry (a
        dead letter sent back); False, and nothing queued, if it was sent there already."""
        queued = await self._requeue(keys=[self._ledger(alert.alert_id, channel),
                                           self._stream(channel)],
                                     args=[self.ttl, encode_alert(alert)])
        return bool(queued)

    async def ensure_group(self, channel: str) -> None:
        try:
            await self.client.xgroup_create(self._stream(channel), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def take(self, channel: str, consumer: str, *, count: int = 16,
                   block_ms: int = 1000, reclaim_idle_ms: int = 60_000,
                   own_first: bool = False) -> list[Pending]:
        """Deliveries for this consumer: ones abandoned by a dead worker first, then new.
        `own_first`: this consumer's own unacknowledged ones before anything (after an
        error left them taken but not delivered), instead of waiting `reclaim_idle_ms`."""
        stream = self._stream(channel)
        if own_first:
            replies = await self.client.xreadgroup(GROUP, consumer, {stream: "0"}, count=count)
            own = [entry for _, stream_entries in replies for entry in stream_entries
                   if entry[1]]
            if own:
                return [Pending(_text(entry_id), channel, decode_alert(fields[b"alert"]))
                        for entry_id, fields in own]
        reply = await self.client.xautoclaim(stream, GROUP, consumer,
                                             min_idle_time=reclaim_idle_ms, start_id="0-0",
                                             count=count)
        entries = list(reply[1])  # Redis 7 adds a third element (deleted ids); 6.2 does not
        if not entries:
            replies = await self.client.xreadgroup(GROUP, consumer, {stream: ">"},
                                                   count=count, block=block_ms)
            entries = [entry for _, stream_entries in replies for entry in stream_entries]
        return [Pending(_text(entry_id), channel, decode_alert(fields[b"alert"]))
                for entry_id, fields in entries if fields]

    async def state(self, alert_id: str, channel: str) -> str | None:
        value = await self.client.get(self._ledger(alert_id, channel))
        return value.decode() if value is not None else None

    async def record_sent(self, pending: Pending, reference: str | None, *, now: float) -> None:
        """Write the ledger, acknowledge the entry and count the send towards its
        subscription's hourly cap, atomically: the entry is never acknowledged without its
        ledger (see module docstring), and one round trip instead of three. Safe to repeat
        when a reply was lost: a ledger already `sent` is not counted again."""
        await self._record_sent(
            keys=[self._ledger(pending.alert.alert_id, pending.channel),
                  self._stream(pending.channel),
                  self._hour(pending.alert.subscription_id, now)],
            args=[sent_value(reference), self.ttl, GROUP, pending.entry_id, _HOUR_KEY_SECONDS])

    async def record_failed(self, pending: Pending, reason: str) -> None:
        await self.client.set(self._ledger(pending.alert.alert_id, pending.channel),
                              f"failed {reason}", ex=self.ttl)
        await self.acknowledge(pending)

    async def acknowledge(self, pending: Pending) -> None:
        """Done with an entry: acknowledged and deleted, so streams do not grow forever."""
        stream = self._stream(pending.channel)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, pending.entry_id)
            pipe.xdel(stream, pending.entry_id)
            await pipe.execute()

    async def was_sent(self, alert_id: str, channel: str) -> bool:
        return (await self.state(alert_id, channel) or "").startswith(_SENT)

    async def reference(self, alert_id: str, channel: str) -> str | None:
        """The message reference of a sent alert (a Slack ts), for threading updates."""
        state = await self.state(alert_id, channel)
        if state and state.startswith(_SENT):
            reference = state.split(" ", 2)[2]
            return None if reference == "-" else reference
        return None

    def _held(self, channel: str) -> str:
        return f"{self.prefix}held:{channel}"

    async def hold(self, pending: Pending, due: float) -> None:
        """Keep an alert until `due` (Unix time): a digest, quiet hours or a rate cap."""
        await self.client.zadd(self._held(pending.channel), {encode_alert(pending.alert): due})
        await self.acknowledge(pending)

    async def due(self, channel: str, now: float, *, limit: int = 500) -> list[Alert]:
        raw = await self.client.zrangebyscore(self._held(channel), "-inf", now, start=0,
                                              num=limit)
        return [decode_alert(member) for member in raw]

    async def release(self, channel: str, alerts: list[Alert]) -> None:
        if alerts:
            await self.client.zrem(self._held(channel), *(encode_alert(a) for a in alerts))

    async def held(self, channel: str) -> int:
        return int(await self.client.zcard(self._held(channel)))

    async def mark(self, alert_id: str, channel: str, value: str) -> None:
        await self.client.set(self._ledger(alert_id, channel), value, ex=self.ttl)

    def _hour(self, subscription_id: str, now: float) -> str:
        return f"{self.prefix}sent-hour:{subscription_id}:{int(now // 3600)}"

    async def sent_this_hour(self, subscription_id: str, now: float) -> int:
        return int(await self.client.get(self._hour(subscription_id, now)) or 0)

    async def count_sent(self, subscription_id: str, now: float) -> None:
        key = self._hour(subscription_id, now)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, _HOUR_KEY_SECONDS)
            await pipe.execute()

    def _group(self, channel: str, subscription_id: str) -> str:
        return f"{self.prefix}group:{channel}:{subscription_id}"

    async def group_state(self, channel: str, subscription_id: str,
                          ) -> tuple[float | None, float | None]:
        """(when the waiting group goes out, when the last grouped message went out)."""
        due, last = await self.client.hmget(self._group(channel, subscription_id),
                                            ["due", "last"])
        return (float(due) if due else None), (float(last) if last else None)

    async def group_waits_until(self, channel: str, subscription_id: str, due: float) -> None:
        key = self._group(channel, subscription_id)
        await self.client.hsetnx(key, "due", due)
        await self.client.expire(key, self.ttl)

    async def group_sent(self, channel: str, subscription_id: str, now: float) -> None:
        key = self._group(channel, subscription_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(key, "due")
            pipe.hset(key, "last", now)
            pipe.expire(key, self.ttl)
            await pipe.execute()


_SENT = "sent "


def sent_value(reference: str | None) -> str:
    return f"{_SENT}{time.time():.3f} {reference or '-'}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

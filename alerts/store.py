"""Subscriptions and silences in Redis, shared by every worker, the CLI and the HTTP API."""

from __future__ import annotations

import builtins
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis
from wirewatch.alerts.errors import SubscriptionError
from wirewatch.alerts.matching import Silences, SubscriptionIndex
from wirewatch.alerts.subscriptions import Schedule, Subscription, from_mapping

MUTE_KINDS = ("subscription", "entity", "story", "source")
MAX_COMMENT = 500

# KEYS[1] the silences, KEYS[2] their notes; ARGV the notes to drop unless their silence
# came back meanwhile (checked here, atomically: a mute between two reads keeps its note).
_DROP_NOTES = """
local dropped = 0
for n = 1, #ARGV do
  if not redis.call('ZSCORE', KEYS[1], ARGV[n]) then
    dropped = dropped + redis.call('HDEL', KEYS[2], ARGV[n])
  end
end
return dropped
"""


@dataclass(frozen=True)
class Silence:
    """One active silence and who set it why (blank for silences set before that was kept)."""

    kind: str
    value: str
    until: float  # Unix time
    created_by: str = ""
    comment: str = ""
    created: float | None = None  # Unix time


class SubscriptionStore:
    """A hash of subscriptions (id -> JSON) and a sorted set of silences (by expiry).

    Who set a silence and why lives in a hash beside the sorted set, so the workers' read
    of the sorted set (and silences stored before the hash existed) stay as they were.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:") -> None:
        self.client = client
        self.key = f"{prefix}subscriptions"
        # When each id was last created: history older than that is another subscription's
        # (an id deleted and used again by someone else).
        self.created_key = f"{prefix}subscriptions:created"
        self.mutes_key = f"{prefix}silences"
        self.notes_key = f"{prefix}silences:notes"
        self._drop_notes = client.register_script(_DROP_NOTES)

    async def save(self, subscription: Subscription) -> bool:
        """Add or replace; True when it was new."""
        new = bool(await self.client.hset(self.key, subscription.id,
                                          json.dumps(subscription.to_dict())))
        if new:
            await self.client.hset(self.created_key, subscription.id, repr(time.time()))
        return new

    async def created_at(self, subscription_ids: builtins.list[str],
                         ) -> dict[str, float | None]:
        """When each subscription with these ids was created, in one round trip (None:
        created before this was kept)."""
        if not subscription_ids:
            return {}
        raws = await self.client.hmget(self.created_key, subscription_ids)
        return {sid: float(raw) if raw is not None else None
                for sid, raw in zip(subscription_ids, raws, strict=True)}

    async def get(self, subscription_id: str) -> Subscription | None:
        raw = await self.client.hget(self.key, subscription_id)
        return from_mapping(json.loads(raw), f"stored subscription {subscription_id!r}") \
            if raw is not None else None

    async def list(self) -> list[Subscription]:
        stored = await self.client.hgetall(self.key)
        found = []
        for key, raw in sorted(stored.items()):
            try:
                found.append(from_mapping(json.loads(raw), f"stored subscription {key!r}"))
            except (SubscriptionError, ValueError):
                continue  # written by a newer version, or damaged: skipped, not fatal
        return found

    async def reassign(self, owner: str, to: str, *,
                       dry_run: bool = False) -> builtins.list[str]:
        """Give every subscription whose owner is exactly `owner` (the free text of older
        versions) to the user `to`; returns their ids. Nothing else changes owner."""
        moved = [s for s in await self.list() if s.owner == owner]
        if not dry_run:
            for subscription in moved:
                await self.save(dataclasses.replace(subscription, owner=to))
        return [s.id for s in moved]

    async def remove(self, subscription_id: str) -> bool:
        removed = bool(await self.client.hdel(self.key, subscription_id))
        await self.client.hdel(self.created_key, subscription_id)
        await self.unmute("subscription", subscription_id)
        return removed

    async def mute(self, kind: str, value: str, until: datetime, *, created_by: str = "",
                   comment: str = "", now: float | None = None) -> None:
        """Silence `kind:value` until then; muting it again replaces the end and the note."""
        if kind not in MUTE_KINDS:
            raise SubscriptionError(f"cannot mute a {kind!r}; mute one of {list(MUTE_KINDS)}")
        if until.tzinfo is None:
            raise SubscriptionError("a silence needs a time zone on its end time")
        if len(comment) > MAX_COMMENT:
            raise SubscriptionError(f"a silence's comment is at most {MAX_COMMENT} characters")
        member = f"{kind}:{value}"
        note = json.dumps({"created_by": created_by, "comment": comment,
                           "created": time.time() if now is None else now})
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zadd(self.mutes_key, {member: until.timestamp()})
            pipe.hset(self.notes_key, member, note)
            await pipe.execute()

    async def unmute(self, kind: str, value: str) -> bool:
        member = f"{kind}:{value}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(self.mutes_key, member)
            pipe.hdel(self.notes_key, member)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def silences(self, now: float | None = None) -> dict[str, float]:
        """Active silences ("kind:value" -> end as Unix time); expired ones are dropped."""
        now = time.time() if now is None else now
        await self.client.zremrangebyscore(self.mutes_key, "-inf", now)
        return {member.decode(): score for member, score in
                await self.client.zrange(self.mutes_key, 0, -1, withscores=True)}

    async def silence_list(self, now: float | None = None) -> builtins.list[Silence]:
        """Active silences with their notes, the soonest to end first; notes of expired
        silences are dropped here (the workers' reads only trim the sorted set)."""
        active = await self.silences(now)
        notes = await self.client.hgetall(self.notes_key)
        stale = [member for member in notes if member.decode() not in active]
        if stale:
            await self._drop_notes(keys=[self.mutes_key, self.notes_key], args=stale)
        found = []
        for member, until in sorted(active.items(), key=lambda item: (item[1], item[0])):
            kind, _, value = member.partition(":")
            note = _note(notes.get(member.encode()))
            found.append(Silence(kind, value, until, str(note.get("created_by", "")),
                                 str(note.get("comment", "")),
                                 _float_or_none(note.get("created"))))
        return found


def _note(raw: bytes | None) -> dict[str, object]:
    try:
        note = json.loads(raw) if raw is not None else {}
    except ValueError:
        return {}  # damaged: the silence itself still holds
    return note if isinstance(note, dict) else {}


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def silences_of(active: dict[str, float]) -> Silences:
    by_kind: dict[str, set[str]] = {kind: set() for kind in MUTE_KINDS}
    for member in active:
        kind, _, value = member.partition(":")
        if kind in by_kind:
            by_kind[kind].add(value)
    return Silences(frozenset(by_kind["subscription"]), frozenset(by_kind["entity"]),
                    frozenset(by_kind["story"]),
                    frozenset(value.lower() for value in by_kind["source"]))


class LiveSubscriptions:
    """The subscriptions and silences a worker matches against, refreshed from Redis every
    `refresh_seconds`, so changes made by the CLI or the API apply without a restart."""

    def __init__(self, store: SubscriptionStore, *, refresh_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.refresh_seconds, self.clock = store, refresh_seconds, clock
        self._loaded_at = -float("inf")
        self.subscriptions: list[Subscription] = []
        self.index = SubscriptionIndex([])  # the subscriptions by what can trigger them
        self.silences = Silences()

    async def current(self) -> tuple[list[Subscription], Silences]:
        if self.clock() - self._loaded_at >= self.refresh_seconds:
            self.subscriptions = await self.store.list()
            self.index = SubscriptionIndex(self.subscriptions)
            self.silences = silences_of(await self.store.silences())
            self._loaded_at = self.clock()
        return self.subscriptions, self.silences

    async def schedule_of(self, subscription_id: str) -> Schedule | None:
        """The schedule of a subscription (None when it was removed)."""
        subscriptions, _ = await self.current()
        for subscription in subscriptions:
            if subscription.id == subscription_id:
                return subscription.schedule
        return None

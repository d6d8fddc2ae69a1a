"""Subscriptions and silences in Redis, shared by every worker, the CLI and the HTTP API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

import redis.asyncio as aioredis
from wirewatch.alerts.errors import SubscriptionError
from wirewatch.alerts.matching import Silences, SubscriptionIndex
from wirewatch.alerts.subscriptions import Schedule, Subscription, from_mapping

MUTE_KINDS = ("subscription", "entity", "story")


class SubscriptionStore:
    """A hash of subscriptions (id -> JSON) and a sorted set of silences (by expiry)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:") -> None:
        self.client = client
        self.key = f"{prefix}subscriptions"
        self.mutes_key = f"{prefix}silences"

    async def save(self, subscription: Subscription) -> bool:
        """Add or replace; True when it was new."""
        return bool(await self.client.hset(self.key, subscription.id,
                                           json.dumps(subscription.to_dict())))

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

    async def remove(self, subscription_id: str) -> bool:
        removed = bool(await self.client.hdel(self.key, subscription_id))
        await self.client.zrem(self.mutes_key, f"subscription:{subscription_id}")
        return removed

    async def mute(self, kind: str, value: str, until: datetime) -> None:
        if kind not in MUTE_KINDS:
            raise SubscriptionError(f"cannot mute a {kind!r}; mute one of {list(MUTE_KINDS)}")
        if until.tzinfo is None:
            raise SubscriptionError("a silence needs a time zone on its end time")
        await self.client.zadd(self.mutes_key, {f"{kind}:{value}": until.timestamp()})

    async def unmute(self, kind: str, value: str) -> bool:
        return bool(await self.client.zrem(self.mutes_key, f"{kind}:{value}"))

    async def silences(self, now: float | None = None) -> dict[str, float]:
        """Active silences ("kind:value" -> end as Unix time); expired ones are dropped."""
        now = time.time() if now is None else now
        await self.client.zremrangebyscore(self.mutes_key, "-inf", now)
        return {member.decode(): score for member, score in
                await self.client.zrange(self.mutes_key, 0, -1, withscores=True)}


def silences_of(active: dict[str, float]) -> Silences:
    by_kind: dict[str, set[str]] = {kind: set() for kind in MUTE_KINDS}
    for member in active:
        kind, _, value = member.partition(":")
        if kind in by_kind:
            by_kind[kind].add(value)
    return Silences(frozenset(by_kind["subscription"]), frozenset(by_kind["entity"]),
                    frozenset(by_kind["story"]))


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

"""What each subscription was told about each story, in Redis, so copies and replays of a
story send no new alert and a material change sends exactly one update."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from wirewatch.alerts.matching import Decision, Sent
from wirewatch.alerts.records import alert_unit

# KEYS[1] the (subscription, unit) hash; ARGV: expected updates (-1: must not exist),
# title, outlets, updates, ttl, event stories. Returns 1 when written, 0 when another worker
# got there first.
_RECORD = """
local current = redis.call('HGET', KEYS[1], 'updates')
local expected = tonumber(ARGV[1])
if expected < 0 then
  if current then return 0 end
elseif not current or tonumber(current) ~= expected then
  return 0
end
redis.call('HSET', KEYS[1], 'title', ARGV[2], 'outlets', ARGV[3], 'updates', ARGV[4],
           'stories', ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class SentStore:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 ttl_days: float = 30.0) -> None:
        self.client, self.prefix = client, prefix
        self.ttl = max(1, int(ttl_days * 86400))
        self._record = client.register_script(_RECORD)

    def _key(self, subscription_id: str, story_id: str) -> str:
        return f"{self.prefix}sent:{subscription_id}:{story_id}"

    async def load(self, subscription_ids: Sequence[str], story_id: str) -> dict[str, Sent]:
        """What each subscription was told about one story."""
        (found,) = await self.load_many([(subscription_ids, story_id)])
        return found

    async def load_many(self, queries: Sequence[tuple[Sequence[str], str]],
                        ) -> list[dict[str, Sent]]:
        """`load` for many (subscription ids, story id) in one round trip."""
        return await self.load_units([[(sub, story) for sub in subs] for subs, story in queries])

    async def load_units(self, queries: Sequence[Sequence[tuple[str, str]]],
                         ) -> list[dict[str, Sent]]:
        """What each (subscription, unit) of each query was told (a unit: a story id or an
        event's `event_unit`), by subscription id, in one round trip."""
        pairs = [pair for query in queries for pair in query]
        if not pairs:
            return [{} for _ in queries]
        async with self.client.pipeline(transaction=False) as pipe:
            for sub, story in pairs:
                pipe.hgetall(self._key(sub, story))
            replies = iter(await pipe.execute())
        found: list[dict[str, Sent]] = []
        for query in queries:
            told = {}
            for sub, _ in query:
                fields = next(replies)
                if fields:
                    told[sub] = Sent(fields[b"title"].decode(), int(fields[b"outlets"]),
                                     int(fields[b"updates"]), int(fields.get(b"stories", 0)))
            found.append(told)
        return found

    async def record(self, decisions: Sequence[Decision]) -> list[Decision]:
        """Remember each decision atomically (one round trip for all); returns those that
        won (others are dropped: a concurrent worker already decided the same thing)."""
        if not decisions:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for decision in decisions:
                alert, sent = decision.alert, decision.sent
                expected = sent.updates - 1 if alert.is_update else -1
                await self._record(keys=[self._key(alert.subscription_id, alert_unit(alert))],
                                   args=[expected, sent.title, sent.outlets, sent.updates,
                                         self.ttl, sent.stories], client=pipe)
            flags = await pipe.execute()
        return [decision for decision, flag in zip(decisions, flags, strict=True) if flag]

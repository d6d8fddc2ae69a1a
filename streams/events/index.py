"""Where story profiles and events live: Redis (shared by workers, expiring) or memory.

Per story `ev:s:<story>` holds its event and profile; per key `ev:k:<lang>:<term>` a sorted
set of story ids by publication time; per event `ev:e:<event>` a hash (first/last seen,
stories) and `ev:e:<event>:stories`. Everything expires after the event window.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec
import redis.asyncio as aioredis
from wirewatch.streams.events.embedding import dequantise, quantise
from wirewatch.streams.events.engine import Candidate, EventAssignment, PendingEvent, Query
from wirewatch.streams.events.profile import Profile

PER_KEY = 25  # most recent stories read per key: enough for a developing event


class _Stored(msgspec.Struct, array_like=True):
    event_id: str
    similarity: float
    lang: str
    terms: list[str]
    title_terms: list[str]
    names: list[str]
    numbers: list[str]
    published: float
    vector: bytes


def pack(event: EventAssignment, profile: Profile) -> bytes:
    return _encoder.encode(_Stored(
        event.event_id, event.similarity, profile.lang, sorted(profile.terms),
        sorted(profile.title_terms), sorted(profile.names), sorted(profile.numbers),
        profile.published, quantise(profile.vector)))


def unpack(data: bytes) -> tuple[str, Profile]:
    stored = _decoder.decode(data)
    return stored.event_id, Profile(
        lang=stored.lang, terms=frozenset(stored.terms),
        title_terms=frozenset(stored.title_terms), names=frozenset(stored.names),
        numbers=frozenset(stored.numbers), published=stored.published,
        vector=dequantise(stored.vector))


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Stored)

# ARGV[1] = msgpack [prefix, window seconds, per key, [[story id, published, [keys]], ...]].
# Returns per query: {own record or false, flat list of candidate id, record, ...}.
_LOOKUP = """
local spec = cmsgpack.unpack(ARGV[1])
local prefix, window, per_key, queries = spec[1], tonumber(spec[2]), spec[3], spec[4]
local out = {}
for q = 1, #queries do
  local id, published, keys = unpack(queries[q])
  local own = redis.call('GET', prefix .. 's:' .. id)
  local found, seen = {}, {}
  if not own then
    for i = 1, #keys do
      local members = redis.call('ZREVRANGEBYSCORE', prefix .. 'k:' .. keys[i],
        tonumber(published) + window, tonumber(published) - window, 'LIMIT', 0, per_key)
      for j = 1, #members do
        local other = members[j]
        if other ~= id and not seen[other] then
          seen[other] = true
          local record = redis.call('GET', prefix .. 's:' .. other)
          if record then
            found[#found + 1] = other
            found[#found + 1] = record
          end
        end
      end
    end
  end
  out[q] = {own or false, found}
end
return out
"""

# ARGV[1] = msgpack [prefix, ttl, check, now, [[story, event, "new"/"join", published,
# [keys], [seen]], ...]], ARGV[2...] = each story's record. `recent` ranks events by when
# news of them last arrived (now), not by publication: a backfill's old news is news here.
# A new event is refused when a key holds a recorded story it did not compare with (a
# concurrent founder); a join is refused when the story it joined was refused in this call.
# Returns 1 (recorded) or 0 per story.
_ADD = """
local spec = cmsgpack.unpack(ARGV[1])
local prefix, ttl, checking, now, items = spec[1], spec[2], spec[3], spec[4], spec[5]
local out, refused = {}, {}
for n = 1, #items do
  local id, event, mode, published, keys, seen_list = unpack(items[n])
  local seen, ok = {}, true
  for i = 1, #seen_list do seen[seen_list[i]] = true end
  if redis.call('EXISTS', prefix .. 's:' .. id) == 1 then
    ok = true  -- recorded before (a replay): the first answer stands
  elseif checking and mode == 'new' then
    for i = 1, #keys do
      local members = redis.call('ZRANGE', prefix .. 'k:' .. keys[i], 0, -1)
      for j = 1, #members do
        local other = members[j]
        if other ~= id and not seen[other]
            and redis.call('EXISTS', prefix .. 's:' .. other) == 1 then
          ok = false
        end
      end
    end
  elseif mode == 'join' and refused[event] then
    ok = false
  end
  if ok and redis.call('EXISTS', prefix .. 's:' .. id) == 0 then
    redis.call('SET', prefix .. 's:' .. id, ARGV[1 + n], 'EX', ttl)
    for i = 1, #keys do
      local key = prefix .. 'k:' .. keys[i]
      redis.call('ZADD', key, published, id)
      redis.call('EXPIRE', key, ttl)
    end
    local head, listed = prefix .. 'e:' .. event, prefix .. 'e:' .. event .. ':stories'
    redis.call('ZADD', listed, published, id)
    local first = redis.call('HGET', head, 'first_seen')
    if not first or tonumber(published) < tonumber(first) then
      redis.call('HSET', head, 'first_seen', published)
    end
    local last = redis.call('HGET', head, 'last_seen')
    if not last or tonumber(published) > tonumber(last) then
      redis.call('HSET', head, 'last_seen', published)
    end
    redis.call('HSET', head, 'stories', redis.call('ZCARD', listed))
    redis.call('EXPIRE', head, ttl)
    redis.call('EXPIRE', listed, ttl)
    redis.call('ZADD', prefix .. 'recent', now, event)
  end
  if ok then out[n] = 1 else refused[id] = true; out[n] = 0 end
end
return out
"""


class RedisEventIndex:
    """The event index in Redis; one Lua call per batch for lookups and one for records."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 window_seconds: float = 72 * 3600) -> None:
        self.client = client
        self.prefix = f"{prefix}ev:"
        self.window = float(window_seconds)
        self.ttl = max(1, int(window_seconds * 2))  # a story stays findable a whole window
        self._lookup = client.register_script(_LOOKUP)
        self._add = client.register_script(_ADD)

    async def lookup_many(self, queries: Sequence[Query]
                          ) -> list[tuple[EventAssignment | None, list[Candidate]]]:
        if not queries:
            return []
        spec = _encoder.encode([self.prefix, self.window, PER_KEY,
                                [[q.story_id, q.published, list(q.keys)] for q in queries]])
        replies = await self._lookup(args=[spec])
        results: list[tuple[EventAssignment | None, list[Candidate]]] = []
        for own, flat in replies:
            if own:
                stored = _decoder.decode(own)
                results.append((EventAssignment(stored.event_id, False, stored.similarity),
                                []))
                continue
            candidates = []
            for position in range(0, len(flat), 2):
                event_id, profile = unpack(flat[position + 1])
                candidates.append(Candidate(flat[position].decode(), event_id, profile))
            results.append((None, candidates))
        return results

    async def add_many(self, pending: Sequence[PendingEvent], *, force: bool = False,
                       ) -> list[bool]:
        if not pending:
            return []
        items = [[p.story_id, p.event.event_id, "new" if p.event.is_new else "join",
                  p.profile.published, list(p.keys), list(p.seen)] for p in pending]
        spec = _encoder.encode([self.prefix, self.ttl, not force, time.time(), items])
        flags = await self._add(args=[spec, *[pack(p.event, p.profile) for p in pending]])
        return [bool(flag) for flag in flags]

    async def story_counts(self, event_ids: Sequence[str]) -> list[int]:
        """How many stories each event has (0 where unknown)."""
        if not event_ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for event_id in event_ids:
                pipe.hget(f"{self.prefix}e:{event_id}", "stories")
            counts = await pipe.execute()
        return [int(count) if count is not None else 0 for count in counts]

    async def events_of(self, story_ids: Sequence[str]) -> list[str | None]:
        """The event of each story already assigned (None where unknown)."""
        if not story_ids:
            return []
        raw = await self.client.mget([f"{self.prefix}s:{s}" for s in story_ids])
        return [_decoder.decode(r).event_id if r is not None else None for r in raw]


class MemoryEventIndex:
    """The same contract in memory, for tests and `wirewatch replay`'s own window."""

    def __init__(self, *, window_seconds: float = 72 * 3600) -> None:
        self.window = window_seconds
        self.stories: dict[str, tuple[EventAssignment, Profile]] = {}
        self.keys: dict[str, dict[str, float]] = {}

    async def lookup_many(self, queries: Sequence[Query]
                          ) -> list[tuple[EventAssignment | None, list[Candidate]]]:
        results: list[tuple[EventAssignment | None, list[Candidate]]] = []
        for query in queries:
            known = self.stories.get(query.story_id)
            if known is not None:
                results.append((known[0], []))
                continue
            seen: dict[str, Candidate] = {}
            for key in query.keys:
                members = sorted(((t, s) for s, t in self.keys.get(key, {}).items()
                                  if abs(t - query.published) <= self.window), reverse=True)
                for _, other in members[:PER_KEY]:
                    if other != query.story_id and other not in seen:
                        event, profile = self.stories[other]
                        seen[other] = Candidate(other, event.event_id, profile)
            results.append((None, list(seen.values())))
        return results

    async def add_many(self, pending: Sequence[PendingEvent], *, force: bool = False,
                       ) -> list[bool]:
        out, refused = [], set()
        for item in pending:
            ok = True
            if item.story_id in self.stories:
                out.append(True)
                continue
            if not force and item.event.is_new:
                ok = not any(other != item.story_id and other not in item.seen
                             for key in item.keys for other in self.keys.get(key, {}))
            elif not item.event.is_new and item.event.event_id in refused:
                ok = False
            if ok:
                self.stories[item.story_id] = (item.event, item.profile)
                for key in item.keys:
                    self.keys.setdefault(key, {})[item.story_id] = item.profile.published
            else:
                refused.add(item.story_id)
            out.append(ok)
        return out


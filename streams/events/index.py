"""Where story profiles and events live: Redis (shared by workers, expiring) or memory.

Per story `ev:s:<story>` holds its event and profile; per key `ev:k:<lang>:<term>` a sorted
set of story ids by publication time; per event `ev:e:<event>` a hash (first/last seen,
stories) and `ev:e:<event>:stories`. Everything expires after the event window.
"""

from __future__ import annotations

import bisect
import time
from collections import OrderedDict
from collections.abc import Sequence

import msgspec
import redis.asyncio as aioredis
from wirewatch.streams.events.embedding import dequantise, quantise
from wirewatch.streams.events.engine import (
    Candidate,
    EventAssignment,
    Looked,
    PendingEvent,
    Query,
)
from wirewatch.streams.events.profile import Profile

PER_KEY = 8  # most recent stories read per key: enough for a developing event
MAX_CANDIDATES = 12  # scored per new story: those sharing the most keys, then the newest
KEEP_PER_KEY = 100  # stories a key keeps in Redis (the newest by publication time)
CACHE_SIZE = 50_000  # decoded profiles kept per worker (a story's event never changes)


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
    """A story's record: its event id and a NUL (so Lua reads the event without decoding),
    then the profile as msgpack."""
    return event.event_id.encode() + b"\x00" + _encoder.encode(_Stored(
        event.event_id, event.similarity, profile.lang, sorted(profile.terms),
        sorted(profile.title_terms), sorted(profile.names), sorted(profile.numbers),
        profile.published, quantise(profile.vector)))


def event_of_record(data: bytes) -> str:
    """The event a stored story record names (its prefix, before the NUL)."""
    return bytes(data).partition(b"\x00")[0].decode()


def _stored(data: bytes) -> _Stored:
    return _decoder.decode(data[data.index(b"\x00") + 1:])


def unpack(data: bytes) -> tuple[str, Profile]:
    stored = _stored(data)
    return stored.event_id, Profile(
        lang=stored.lang, terms=frozenset(stored.terms),
        title_terms=frozenset(stored.title_terms), names=frozenset(stored.names),
        numbers=frozenset(stored.numbers), published=stored.published,
        vector=dequantise(stored.vector))


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Stored)

# ARGV[1] = msgpack [prefix, window seconds, per key, max candidates, [[story id,
# published, [keys]], ...]]. Candidates are ranked by how many keys they share with the
# story, then by how recent they are; the founding stories of their events follow (an
# event's id is its founder's story id, and a record starts with its event id and a NUL,
# read with GETRANGE). Returns per query: {own record or false, [candidate ids],
# [founder ids], [every id seen under the keys]}: ids only, the worker fetches the records
# it has not decoded yet.
_LOOKUP = """
local spec = cmsgpack.unpack(ARGV[1])
local prefix, window, per_key, most = spec[1], tonumber(spec[2]), spec[3], spec[4]
local queries, out = spec[5], {}
for q = 1, #queries do
  local id, published, keys = unpack(queries[q])
  local own = redis.call('GET', prefix .. 's:' .. id)
  if own then
    out[q] = {own, {}, {}, {}}
  else
    local hits, when, order = {}, {}, {}
    for i = 1, #keys do
      local members = redis.call('ZREVRANGEBYSCORE', prefix .. 'k:' .. keys[i],
        tonumber(published) + window, tonumber(published) - window, 'WITHSCORES',
        'LIMIT', 0, per_key)
      for j = 1, #members, 2 do
        local other = members[j]
        if other ~= id then
          if not hits[other] then
            hits[other], when[other] = 0, tonumber(members[j + 1])
            order[#order + 1] = other
          end
          hits[other] = hits[other] + 1
        end
      end
    end
    table.sort(order, function(a, b)
      if hits[a] ~= hits[b] then return hits[a] > hits[b] end
      if when[a] ~= when[b] then return when[a] > when[b] end
      return a < b
    end)
    local found, founders, included = {}, {}, {}
    for n = 1, math.min(most, #order) do
      found[#found + 1] = order[n]
      included[order[n]] = true
    end
    for n = 1, #found do
      local head = redis.call('GETRANGE', prefix .. 's:' .. found[n], 0, 255)
      local cut = string.find(head, "\0", 1, true)
      if cut then
        local event = string.sub(head, 1, cut - 1)
        if not included[event] then
          included[event] = true
          founders[#founders + 1] = event
        end
      end
    end
    out[q] = {false, found, founders, order}
  end
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
local window, per_key, keep = tonumber(spec[6]), spec[7], spec[8]
local out, refused = {}, {}
for n = 1, #items do
  local id, event, mode, published, keys, seen_list = unpack(items[n])
  local seen, ok = {}, true
  for i = 1, #seen_list do seen[seen_list[i]] = true end
  if redis.call('EXISTS', prefix .. 's:' .. id) == 1 then
    ok = true  -- recorded before (a replay): the first answer stands
  elseif checking and mode == 'new' then
    for i = 1, #keys do
      -- What a lookup of this story reads: the newest per key in the window.
      local members = redis.call('ZREVRANGEBYSCORE', prefix .. 'k:' .. keys[i],
        tonumber(published) + window, tonumber(published) - window, 'LIMIT', 0, per_key)
      for j = 1, #members do
        local other = members[j]
        if other ~= id and not seen[other] then
          ok = false  -- recorded after our lookup: a concurrent story, compare with it
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
      -- A key holds at most `keep` stories (the newest by publication): lookups read
      -- `per_key` of them, and a common word must not grow without end.
      redis.call('ZREMRANGEBYRANK', key, 0, -(keep + 1))
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
        self._decoded: OrderedDict[str, tuple[str, Profile]] = OrderedDict()

    def _remember(self, story_id: str, record: bytes) -> None:
        """A story's event and profile, decoded once per worker (neither ever changes)."""
        self._decoded[story_id] = unpack(record)
        if len(self._decoded) > CACHE_SIZE:
            self._decoded.popitem(last=False)

    async def lookup_many(self, queries: Sequence[Query]) -> list[Looked]:
        if not queries:
            return []
        spec = _encoder.encode([self.prefix, self.window, PER_KEY, MAX_CANDIDATES,
                                [[q.story_id, q.published, list(q.keys)] for q in queries]])
        replies = await self._lookup(args=[spec])
        wanted = sorted({raw.decode() for _, found, founders, _ in replies
                         for raw in (*found, *founders)} - self._decoded.keys())
        if wanted:  # records not decoded before, in one round trip
            for story_id, record in zip(wanted, await self.client.mget(
                    [f"{self.prefix}s:{s}" for s in wanted]), strict=True):
                if record is not None:
                    self._remember(story_id, record)
        results: list[Looked] = []
        for own, found, founders, observed in replies:
            if own:
                stored = _stored(own)
                results.append(Looked(EventAssignment(stored.event_id, False,
                                                      stored.similarity), []))
                continue
            candidates = []
            for ids, founder_only in ((found, False), (founders, True)):
                for raw in ids:
                    story_id = raw.decode()
                    known = self._decoded.get(story_id)
                    if known is not None:  # None: expired between the two calls
                        candidates.append(Candidate(story_id, known[0], known[1],
                                                    founder_only))
            results.append(Looked(None, candidates,
                                  frozenset(raw.decode() for raw in observed)))
        return results

    async def add_many(self, pending: Sequence[PendingEvent], *, force: bool = False,
                       ) -> list[bool]:
        if not pending:
            return []
        items = [[p.story_id, p.event.event_id, "new" if p.event.is_new else "join",
                  p.profile.published, list(p.keys), list(p.seen)] for p in pending]
        spec = _encoder.encode([self.prefix, self.ttl, not force, time.time(), items,
                                self.window, PER_KEY, KEEP_PER_KEY])
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
        return [event_of_record(r) if r is not None else None for r in raw]


class MemoryEventIndex:
    """The same contract in memory, for tests and `wirewatch replay`'s own window."""

    def __init__(self, *, window_seconds: float = 72 * 3600) -> None:
        self.window = window_seconds
        self.stories: dict[str, tuple[EventAssignment, Profile]] = {}
        self.keys: dict[str, list[tuple[float, str]]] = {}  # sorted by publication time

    async def lookup_many(self, queries: Sequence[Query]) -> list[Looked]:
        results: list[Looked] = []
        for query in queries:
            known = self.stories.get(query.story_id)
            if known is not None:
                results.append(Looked(known[0], []))
                continue
            hits: dict[str, int] = {}
            when: dict[str, float] = {}
            for key in query.keys:
                members = self.keys.get(key, [])
                end = bisect.bisect_right(members, (query.published + self.window, "\uffff"))
                start = bisect.bisect_left(members, (query.published - self.window, ""))
                for published, other in reversed(members[max(start, end - PER_KEY):end]):
                    if other != query.story_id:
                        hits[other] = hits.get(other, 0) + 1
                        when[other] = published
            ranked = sorted(hits, key=lambda s: (-hits[s], -when[s], s))[:MAX_CANDIDATES]
            found = [Candidate(s, self.stories[s][0].event_id, self.stories[s][1])
                     for s in ranked]
            founders = dict.fromkeys(c.event_id for c in found
                                     if c.event_id not in ranked and c.event_id in self.stories)
            found += [Candidate(e, e, self.stories[e][1], founder_only=True) for e in founders]
            # As the add check below reads them: every story under the keys.
            observed = frozenset(s for key in query.keys for _, s in self.keys.get(key, []))
            results.append(Looked(None, found, observed))
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
                             for key in item.keys for _, other in self.keys.get(key, []))
            elif not item.event.is_new and item.event.event_id in refused:
                ok = False
            if ok:
                self.stories[item.story_id] = (item.event, item.profile)
                for key in item.keys:
                    bisect.insort(self.keys.setdefault(key, []),
                                  (item.profile.published, item.story_id))
            else:
                refused.add(item.story_id)
            out.append(ok)
        return out


"""Where sketches, lead-sentence anchors and sample keys live: Redis (shared, expiring) or
memory (tests)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import msgspec
import redis.asyncio as aioredis
from wirewatch.streams.dedupe.engine import Indexed, Pending, Query, StoryAssignment, sample_keys
from wirewatch.streams.dedupe.sketch import Sketch

# Both scripts take their batch as one msgpack argument (decoded by Redis's built-in
# cmsgpack) instead of thousands of KEYS/ARGV entries: packing arguments one by one cost
# more than the work itself. The keys they touch therefore come from that argument, which
# standalone Redis (and Valkey) allow and Redis Cluster does not: the index needs one
# primary, which is what its atomic claims need anyway.

# ARGV[1] = msgpack [article key prefix, [[article id, [anchor/URL keys]], ...]].
# Returns {known records (false where none), owners per query (false where none),
# flat list of owner id, owner record}.
_LOOKUP_MANY = """
local spec = cmsgpack.unpack(ARGV[1])
local prefix, queries = spec[1], spec[2]
local knowns, owners, records, loaded = {}, {}, {}, {}
for q = 1, #queries do
  local query = queries[q]
  knowns[q] = redis.call('GET', prefix .. query[1])
  local keys, mine = query[2], {}
  for i = 1, #keys do
    local owner = redis.call('GET', keys[i])
    mine[i] = owner
    if owner and not loaded[owner] then
      loaded[owner] = true
      local record = redis.call('GET', prefix .. owner)
      if record then
        records[#records + 1] = owner
        records[#records + 1] = record
      end
    end
  end
  owners[q] = mine
end
return {knowns, owners, records}
"""

# One call records a whole batch, in order. ARGV[1] = ttl, ARGV[2] = "check" or "force",
# ARGV[3] = msgpack [article key prefix, [[id, story id, "new"/"join", [keys], [seen ids]],
# ...]], then ARGV[4...] = each article's record (binary, so not inside the msgpack).
# A new story is refused when one of its keys was claimed by an article not yet compared
# (a concurrent copy whose record exists); a join is refused when its founder was refused
# in this same call. Returns 1 (recorded) or 0 (refused: assign that article again).
_ADD_MANY = """
local ttl, checking = ARGV[1], ARGV[2] == 'check'
local spec = cmsgpack.unpack(ARGV[3])
local prefix, items = spec[1], spec[2]
local out, refused = {}, {}
for n = 1, #items do
  local id, story, mode, keys, seen_list = unpack(items[n])
  local seen = {}
  for i = 1, #seen_list do seen[seen_list[i]] = true end
  local ok = true
  if checking and mode == 'new' then
    for i = 1, #keys do
      local owner = redis.call('GET', keys[i])
      if owner and owner ~= id and not seen[owner]
          and redis.call('EXISTS', prefix .. owner) == 1 then
        ok = false
      end
    end
  elseif mode == 'join' and refused[story] then
    ok = false
  end
  if ok then
    for i = 1, #keys do redis.call('SET', keys[i], id, 'NX', 'EX', ttl) end
    redis.call('SET', prefix .. id, ARGV[3 + n], 'EX', ttl)
    out[n] = 1
  else
    refused[id] = true
    out[n] = 0
  end
end
return out
"""


class _Record(msgspec.Struct, array_like=True):
    story_id: str
    is_duplicate: bool
    similarity: float
    shingles: int
    bottom: bytes
    anchors: bytes


def _pack(values: Sequence[int], kind: str) -> bytes:
    return struct.pack(f"<{len(values)}{kind}", *values)


def _unpack(data: bytes, kind: str) -> tuple[int, ...]:
    return struct.unpack(f"<{len(data) // 4}{kind}", data)


_BOTTOM, _ANCHORS = "I", "i"  # sketch values are unsigned 32-bit, anchors signed


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Record)


def _assignment(record: _Record) -> StoryAssignment:
    return StoryAssignment(story_id=record.story_id, is_duplicate=record.is_duplicate,
                           duplicate_of=record.story_id if record.is_duplicate else None,
                           similarity=record.similarity)


class RedisStoryIndex:
    """Articles, anchors and URL keys in Redis, each expiring after the dedupe window."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 window_seconds: float = 7 * 86400) -> None:
        self.client = client
        # "dd2": sketches hash words differently from "dd" (crc32 per word); entries under
        # the old name cannot be compared with new ones and are left to expire.
        self.prefix = f"{prefix}dd2:"
        self.ttl = max(1, int(window_seconds))
        self._lookup_many = client.register_script(_LOOKUP_MANY)
        self._add_many = client.register_script(_ADD_MANY)

    def _article(self, article_id: str) -> str:
        return f"{self.prefix}a:{article_id}"

    def _keys(self, url_key: str | None, anchors: Sequence[int],
              samples: Sequence[int] = ()) -> list[str]:
        """Anchor keys, then sample keys, then the URL key (lookup reads them in order)."""
        keys = [f"{self.prefix}s:{anchor & 0xFFFFFFFF:08x}" for anchor in anchors]
        keys += [f"{self.prefix}m:{sample:016x}" for sample in samples]
        if url_key:
            keys.append(f"{self.prefix}u:{url_key}")
        return keys

    async def lookup_many(self, queries: Sequence[Query],
                          ) -> list[tuple[StoryAssignment | None, list[Indexed]]]:
        key_lists = [self._keys(url_key, anchors, samples)
                     for _, url_key, anchors, samples in queries]
        spec = _encoder.encode([f"{self.prefix}a:", [
            [query[0], keys] for query, keys in zip(queries, key_lists, strict=True)]])
        knowns, owner_lists, flat_records = await self._lookup_many(args=[spec])
        loaded: dict[str, Indexed] = {}
        for position in range(0, len(flat_records), 2):
            owner = flat_records[position].decode()
            record = _decoder.decode(flat_records[position + 1])
            loaded[owner] = Indexed(owner, record.story_id, Sketch(
                record.shingles, _unpack(record.bottom, _BOTTOM),
                _unpack(record.anchors, _ANCHORS)))
        results = []
        for known, (_, url_key, anchors, _), owners_raw in zip(knowns, queries, owner_lists,
                                                               strict=True):
            owners = sorted({o.decode() for o in owners_raw if o is not None})
            url_owner = (owners_raw[-1].decode()
                         if url_key and owners_raw and owners_raw[-1] is not None else None)
            by_anchor = {o.decode() for o in owners_raw[:len(anchors)] if o is not None}
            results.append((_assignment(_decoder.decode(known)) if known is not None else None,
                            [loaded[o].found_as(o == url_owner,
                                                o not in by_anchor and o != url_owner)
                             for o in owners if o in loaded]))
        return results

    async def add_many(self, pending: Sequence[Pending], *, force: bool = False) -> list[bool]:
        if not pending:
            return []
        items = []
        records: list[bytes] = []
        for item in pending:
            items.append([item.article_id, item.story.story_id,
                          "join" if item.story.is_duplicate else "new",
                          self._keys(item.url_key, item.sketch.anchors,
                                     sample_keys(item.sketch)), list(item.seen)])
            records.append(_encoder.encode(_Record(
                item.story.story_id, item.story.is_duplicate, item.story.similarity,
                item.sketch.shingles, _pack(item.sketch.bottom, _BOTTOM),
                _pack(item.sketch.anchors, _ANCHORS))))
        spec = _encoder.encode([f"{self.prefix}a:", items])
        flags = await self._add_many(args=[self.ttl, "force" if force else "check", spec,
                                           *records])
        return [bool(flag) for flag in flags]


class MemoryStoryIndex:
    """The same contract in a process's memory, for tests and quick experiments."""

    def __init__(self) -> None:
        self.articles: dict[str, tuple[StoryAssignment, Sketch]] = {}
        self.owners: dict[str, str] = {}

    def _keys(self, url_key: str | None, anchors: Sequence[int],
              samples: Sequence[int] = ()) -> list[str]:
        return ([f"s:{a}" for a in anchors] + [f"m:{m}" for m in samples]
                + ([f"u:{url_key}"] if url_key else []))

    async def lookup_many(self, queries: Sequence[Query],
                          ) -> list[tuple[StoryAssignment | None, list[Indexed]]]:
        results = []
        for article_id, url_key, anchors, samples in queries:
            known = self.articles.get(article_id)
            owners = sorted({self.owners[k] for k in self._keys(url_key, anchors, samples)
                             if k in self.owners})
            url_owner = self.owners.get(f"u:{url_key}") if url_key else None
            by_anchor = {self.owners[k] for k in self._keys(None, anchors) if k in self.owners}
            results.append((known[0] if known else None,
                            [Indexed(a, self.articles[a][0].story_id, self.articles[a][1],
                                     a == url_owner, a not in by_anchor and a != url_owner)
                             for a in owners]))
        return results

    async def add_many(self, pending: Sequence[Pending], *, force: bool = False) -> list[bool]:
        recorded, refused = [], set()
        for item in pending:
            keys = self._keys(item.url_key, item.sketch.anchors, sample_keys(item.sketch))
            ok = True
            if not force and not item.story.is_duplicate:
                ok = not any(self.owners.get(k, item.article_id) not in
                             (item.article_id, *item.seen) for k in keys)
            elif item.story.is_duplicate and item.story.story_id in refused:
                ok = False
            if ok:
                for key in keys:
                    self.owners.setdefault(key, item.article_id)
                self.articles[item.article_id] = (item.story, item.sketch)
            else:
                refused.add(item.article_id)
            recorded.append(ok)
        return recorded

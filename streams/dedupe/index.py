"""Where sketches and lead-sentence anchors live: Redis (shared, expiring) or memory (tests)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace

import msgspec
import redis.asyncio as aioredis

from streams.dedupe.engine import Indexed, Pending, StoryAssignment
from streams.dedupe.sketch import Sketch

# One call records a whole batch, in order. KEYS: per article, its key then its anchor/URL
# keys. ARGV[1] = ttl, ARGV[2] = article key prefix, ARGV[3] = "check" or "force"; then per
# article: id, story id, record, mode ("new"/"join"), key count, seen count, seen ids.
# A new story is refused when one of its keys was claimed by an article not yet compared
# (a concurrent copy whose record exists); a join is refused when its founder was refused
# in this same call. Returns 1 (recorded) or 0 (refused: assign that article again).
_ADD_MANY = """
local ttl, article_prefix, checking = ARGV[1], ARGV[2], ARGV[3] == 'check'
local a, k = 4, 1
local out, refused = {}, {}
while a <= #ARGV do
  local id, story, record, mode = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local nkeys, nseen = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local seen = {}
  for i = 1, nseen do seen[ARGV[a + 5 + i]] = true end
  a = a + 6 + nseen
  local ok = true
  if checking and mode == 'new' then
    for i = 1, nkeys do
      local owner = redis.call('GET', KEYS[k + i])
      if owner and owner ~= id and not seen[owner]
          and redis.call('EXISTS', article_prefix .. owner) == 1 then
        ok = false
      end
    end
  elseif mode == 'join' and refused[story] then
    ok = false
  end
  if ok then
    for i = 1, nkeys do redis.call('SET', KEYS[k + i], id, 'NX', 'EX', ttl) end
    redis.call('SET', KEYS[k], record, 'EX', ttl)
    table.insert(out, 1)
  else
    refused[id] = true
    table.insert(out, 0)
  end
  k = k + 1 + nkeys
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


def _pack(values: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(values)}i", *values)  # signed 32-bit sketch values


def _unpack(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(data) // 4}i", data)


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
        self.prefix = f"{prefix}dd:"
        self.ttl = max(1, int(window_seconds))
        self._add_many = client.register_script(_ADD_MANY)

    def _article(self, article_id: str) -> str:
        return f"{self.prefix}a:{article_id}"

    def _keys(self, url_key: str | None, anchors: Sequence[int]) -> list[str]:
        keys = [f"{self.prefix}s:{anchor & 0xFFFFFFFF:08x}" for anchor in anchors]
        if url_key:
            keys.append(f"{self.prefix}u:{url_key}")
        return keys

    async def _load(self, article_ids: Sequence[str]) -> list[Indexed]:
        if not article_ids:
            return []
        raws = await self.client.mget([self._article(a) for a in article_ids])
        found = []
        for article_id, raw in zip(article_ids, raws, strict=True):
            if raw is not None:
                record = _decoder.decode(raw)
                found.append(Indexed(article_id, record.story_id, Sketch(
                    record.shingles, _unpack(record.bottom), _unpack(record.anchors))))
        return found

    async def lookup_many(self, queries: Sequence[tuple[str, str | None, Sequence[int]]],
                          ) -> list[tuple[StoryAssignment | None, list[Indexed]]]:
        key_lists = [self._keys(url_key, anchors) for _, url_key, anchors in queries]
        flat = [key for keys in key_lists for key in keys]
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.mget([self._article(article_id) for article_id, _, _ in queries])
            if flat:
                pipe.mget(flat)
            replies = await pipe.execute()
        knowns = [_assignment(_decoder.decode(raw)) if raw is not None else None
                  for raw in replies[0]]
        owners_flat = iter(replies[1] if flat else [])
        owner_replies = [[next(owners_flat) for _ in keys] for keys in key_lists]
        wanted = sorted({o.decode() for replies_ in owner_replies for o in replies_ if o})
        loaded = {entry.article_id: entry for entry in await self._load(wanted)}
        results = []
        for known, (_, url_key, _), replies_ in zip(knowns, queries, owner_replies, strict=True):
            owners = sorted({o.decode() for o in replies_ if o is not None})
            url_owner = replies_[-1].decode() if url_key and replies_[-1] is not None else None
            results.append((known, [replace(loaded[o], same_url=o == url_owner)
                                    for o in owners if o in loaded]))
        return results

    async def add_many(self, pending: Sequence[Pending], *, force: bool = False) -> list[bool]:
        if not pending:
            return []
        keys: list[str] = []
        args: list[str | bytes | int] = [self.ttl, f"{self.prefix}a:",
                                         "force" if force else "check"]
        for item in pending:
            item_keys = self._keys(item.url_key, item.sketch.anchors)
            keys += [self._article(item.article_id), *item_keys]
            record = _encoder.encode(_Record(
                item.story.story_id, item.story.is_duplicate, item.story.similarity,
                item.sketch.shingles, _pack(item.sketch.bottom), _pack(item.sketch.anchors)))
            args += [item.article_id, item.story.story_id, record,
                     "join" if item.story.is_duplicate else "new", len(item_keys),
                     len(item.seen), *item.seen]
        return [bool(flag) for flag in await self._add_many(keys=keys, args=args)]


class MemoryStoryIndex:
    """The same contract in a process's memory, for tests and quick experiments."""

    def __init__(self) -> None:
        self.articles: dict[str, tuple[StoryAssignment, Sketch]] = {}
        self.owners: dict[str, str] = {}

    def _keys(self, url_key: str | None, anchors: Sequence[int]) -> list[str]:
        return [f"s:{a}" for a in anchors] + ([f"u:{url_key}"] if url_key else [])

    async def lookup_many(self, queries: Sequence[tuple[str, str | None, Sequence[int]]],
                          ) -> list[tuple[StoryAssignment | None, list[Indexed]]]:
        results = []
        for article_id, url_key, anchors in queries:
            known = self.articles.get(article_id)
            owners = sorted({self.owners[k] for k in self._keys(url_key, anchors)
                             if k in self.owners})
            url_owner = self.owners.get(f"u:{url_key}") if url_key else None
            results.append((known[0] if known else None,
                            [Indexed(a, self.articles[a][0].story_id, self.articles[a][1],
                                     a == url_owner) for a in owners]))
        return results

    async def add_many(self, pending: Sequence[Pending], *, force: bool = False) -> list[bool]:
        recorded, refused = [], set()
        for item in pending:
            keys = self._keys(item.url_key, item.sketch.anchors)
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

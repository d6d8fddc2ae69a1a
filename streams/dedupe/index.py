"""Where sketches and lead-sentence anchors live: Redis (shared, expiring) or memory (tests)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import replace

import msgspec
import redis.asyncio as aioredis

from streams.dedupe.engine import Indexed, Pending, StoryAssignment
from streams.dedupe.sketch import Sketch

# KEYS[1] = article key, KEYS[2..] = anchor and URL keys.
# ARGV[1] = article id, ARGV[2] = record, ARGV[3] = ttl, ARGV[4] = "new" for a new story,
# ARGV[5..] = article ids already compared. A new story is refused (and the owners returned)
# when an anchor was claimed meanwhile by an article not yet compared: a concurrent copy.
_ADD = """
if ARGV[4] == 'new' then
  local seen = {}
  for i = 5, #ARGV do seen[ARGV[i]] = true end
  local raced = {}
  for i = 2, #KEYS do
    local owner = redis.call('GET', KEYS[i])
    if owner and owner ~= ARGV[1] and not seen[owner] then table.insert(raced, owner) end
  end
  if #raced > 0 then return raced end
end
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'NX', 'EX', ARGV[3]) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return {}
"""


# One call records a whole batch. KEYS: per article, its key then its anchor/URL keys.
# ARGV[1] = ttl; then per article: id, record, mode ("new"/"join"), key count, seen count,
# seen ids. Returns, per article, the ids that raced it (then that article is not recorded).
_ADD_MANY = """
local ttl = ARGV[1]
local a, k = 2, 1
local out = {}
while a <= #ARGV do
  local id, record, mode = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local nkeys, nseen = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local seen = {}
  for i = 1, nseen do seen[ARGV[a + 4 + i]] = true end
  a = a + 5 + nseen
  local raced = {}
  if mode == 'new' then
    for i = 1, nkeys do
      local owner = redis.call('GET', KEYS[k + i])
      if owner and owner ~= id and not seen[owner] then table.insert(raced, owner) end
    end
  end
  if #raced == 0 then
    for i = 1, nkeys do redis.call('SET', KEYS[k + i], id, 'NX', 'EX', ttl) end
    redis.call('SET', KEYS[k], record, 'EX', ttl)
  end
  table.insert(out, raced)
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
        self._add = client.register_script(_ADD)
        self._add_many = client.register_script(_ADD_MANY)

    def _article(self, article_id: str) -> str:
        return f"{self.prefix}a:{article_id}"

    def _keys(self, url_key: str | None, anchors: Sequence[int]) -> list[str]:
        keys = [f"{self.prefix}s:{anchor & 0xFFFFFFFF:08x}" for anchor in anchors]
        if url_key:
            keys.append(f"{self.prefix}u:{url_key}")
        return keys

    async def known(self, article_id: str) -> StoryAssignment | None:
        raw = await self.client.get(self._article(article_id))
        return _assignment(_decoder.decode(raw)) if raw is not None else None

    async def candidates(self, url_key: str | None, anchors: Sequence[int]) -> list[Indexed]:
        keys = self._keys(url_key, anchors)
        if not keys:
            return []
        replies = await self.client.mget(keys)
        return await self._load_owners(replies, url_key is not None)

    async def _load_owners(self, replies: Sequence[bytes | None],
                           has_url: bool) -> list[Indexed]:
        """Candidates from the owners of an article's keys (its URL key, if any, last)."""
        owners = sorted({o.decode() for o in replies if o is not None})
        url_owner = replies[-1].decode() if has_url and replies[-1] is not None else None
        return [replace(c, same_url=c.article_id == url_owner)
                for c in await self._load(owners)]

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

    async def add(self, article_id: str, story: StoryAssignment, sketch: Sketch,
                  url_key: str | None, seen: Sequence[str] = ()) -> list[Indexed]:
        record = _encoder.encode(_Record(story.story_id, story.is_duplicate, story.similarity,
                                         sketch.shingles, _pack(sketch.bottom),
                                         _pack(sketch.anchors)))
        raced = await self._add(
            keys=[self._article(article_id), *self._keys(url_key, sketch.anchors)],
            args=[article_id, record, self.ttl, "join" if story.is_duplicate else "new", *seen])
        return await self._load([r.decode() if isinstance(r, bytes) else r for r in raced])


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

    async def add_many(self, pending: Sequence[Pending]) -> list[list[Indexed]]:
        if not pending:
            return []
        keys: list[str] = []
        args: list[str | bytes | int] = [self.ttl]
        for item in pending:
            item_keys = self._keys(item.url_key, item.sketch.anchors)
            keys += [self._article(item.article_id), *item_keys]
            record = _encoder.encode(_Record(
                item.story.story_id, item.story.is_duplicate, item.story.similarity,
                item.sketch.shingles, _pack(item.sketch.bottom), _pack(item.sketch.anchors)))
            args += [item.article_id, record, "join" if item.story.is_duplicate else "new",
                     len(item_keys), len(item.seen), *item.seen]
        replies = await self._add_many(keys=keys, args=args)
        raced_ids = [[r.decode() if isinstance(r, bytes) else r for r in reply]
                     for reply in replies]
        wanted = sorted({a for ids in raced_ids for a in ids})
        loaded = {entry.article_id: entry for entry in await self._load(wanted)}
        return [[loaded[a] for a in ids if a in loaded] for ids in raced_ids]


class MemoryStoryIndex:
    """The same contract in a process's memory, for tests and quick experiments."""

    def __init__(self) -> None:
        self.articles: dict[str, tuple[StoryAssignment, Sketch]] = {}
        self.owners: dict[str, str] = {}

    async def known(self, article_id: str) -> StoryAssignment | None:
        entry = self.articles.get(article_id)
        return entry[0] if entry else None

    def _keys(self, url_key: str | None, anchors: Sequence[int]) -> list[str]:
        return [f"s:{a}" for a in anchors] + ([f"u:{url_key}"] if url_key else [])

    async def candidates(self, url_key: str | None, anchors: Sequence[int]) -> list[Indexed]:
        owners = sorted({self.owners[k] for k in self._keys(url_key, anchors) if k in self.owners})
        url_owner = self.owners.get(f"u:{url_key}") if url_key else None
        return [Indexed(a, self.articles[a][0].story_id, self.articles[a][1], a == url_owner)
                for a in owners]

    async def add(self, article_id: str, story: StoryAssignment, sketch: Sketch,
                  url_key: str | None, seen: Sequence[str] = ()) -> list[Indexed]:
        keys = self._keys(url_key, sketch.anchors)
        if not story.is_duplicate:
            raced = {self.owners[k] for k in keys
                     if self.owners.get(k, article_id) != article_id
                     and self.owners[k] not in seen}
            if raced:
                return [Indexed(a, self.articles[a][0].story_id, self.articles[a][1])
                        for a in sorted(raced)]
        for key in keys:
            self.owners.setdefault(key, article_id)
        self.articles[article_id] = (story, sketch)
        return []

    async def lookup_many(self, queries: Sequence[tuple[str, str | None, Sequence[int]]],
                          ) -> list[tuple[StoryAssignment | None, list[Indexed]]]:
        return [(await self.known(a), await self.candidates(u, anchors))
                for a, u, anchors in queries]

    async def add_many(self, pending: Sequence[Pending]) -> list[list[Indexed]]:
        return [await self.add(p.article_id, p.story, p.sketch, p.url_key, p.seen)
                for p in pending]

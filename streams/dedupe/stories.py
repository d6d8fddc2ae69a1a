"""Stories in Redis: each story's syndication list and its canonical (most complete) copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio as aioredis

_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()

# ARGV[1] = key prefix, ARGV[2] = ttl, ARGV[3] = msgpack [[story id, article id, copy json,
# text length, seen_at (epoch seconds)], ...]: a whole batch in one call, as one argument
# (packing thousands of arguments one by one cost more than the work; see dedupe/index.py).
# Each copy is recorded once per article id. Returns each story's number of copies after
# its copy, in order.
_RECORD_COPIES = """
local prefix, ttl = ARGV[1], ARGV[2]
local copies, counts = cmsgpack.unpack(ARGV[3]), {}
for n = 1, #copies do
  local story_id, article_id, copy, length, seen_at = unpack(copies[n])
  local story, listed = prefix .. story_id, prefix .. story_id .. ':copies'
  if redis.call('HSETNX', listed, article_id, copy) == 1 then
    local first = redis.call('HGET', story, 'first_seen')
    if not first or tonumber(seen_at) < tonumber(first) then
      redis.call('HSET', story, 'first_seen', seen_at)
    end
    local best = tonumber(redis.call('HGET', story, 'canonical_length') or '-1')
    if tonumber(length) > best then
      redis.call('HSET', story, 'canonical_id', article_id, 'canonical_length', length)
    end
  end
  redis.call('EXPIRE', story, ttl)
  redis.call('EXPIRE', listed, ttl)
  counts[n] = redis.call('HLEN', listed)
end
return counts
"""

@dataclass(frozen=True)
class StoryCopy:
    """One outlet's copy of a story."""

    article_id: str
    outlet: str
    url: str
    seen_at: float
    lag_seconds: float  # behind the story's first copy


@dataclass(frozen=True)
class Story:
    story_id: str
    first_seen: float
    canonical_id: str
    copies: list[StoryCopy]


class StoryStore:
    """Records every copy once; the canonical copy is the longest text seen so far."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 window_seconds: float = 7 * 86400) -> None:
        self.client = client
        self.prefix = f"{prefix}story:"
        self.ttl = max(1, int(window_seconds))
        self._record = client.register_script(_RECORD_COPIES)

    async def record_copy(self, story_id: str, article_id: str, *, outlet: str, url: str,
                          seen_at: float, text_length: int) -> int:
        """Add a copy (idempotent); returns how many outlets' copies the story has."""
        [count] = await self.record_copies([(story_id, article_id, outlet, url, seen_at,
                                             text_length)])
        return count

    async def record_copies(self, copies: list[tuple[str, str, str, str, float, int]],
                            ) -> list[int]:
        """`record_copy` for many (story, article, outlet, url, seen_at, length) in one
        round trip; returns each story's outlet count after its copy."""
        if not copies:
            return []
        # Numbers travel as Python's own text of them (as redis-py would send them), so the
        # stored first_seen is exactly the float given, not Lua's 14-digit rendering.
        spec = _msgpack.encode([
            [story_id, article_id,
             _json.encode({"outlet": outlet, "url": url, "seen_at": seen_at}).decode(),
             repr(text_length), repr(float(seen_at))]
            for story_id, article_id, outlet, url, seen_at, text_length in copies])
        counts = await self._record(args=[self.prefix, self.ttl, spec])
        return [int(count) for count in counts]

    async def load(self, story_id: str) -> Story | None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(f"{self.prefix}{story_id}")
            pipe.hgetall(f"{self.prefix}{story_id}:copies")
            head, copies = await pipe.execute()
        if not head:
            return None
        first_seen = float(head[b"first_seen"])
        parsed: list[StoryCopy] = []
        for article_id, raw in copies.items():
            data: dict[str, Any] = msgspec.json.decode(raw)
            parsed.append(StoryCopy(article_id.decode(), data["outlet"], data["url"],
                                    data["seen_at"], max(0.0, data["seen_at"] - first_seen)))
        parsed.sort(key=lambda copy: (copy.seen_at, copy.article_id))
        return Story(story_id, first_seen, head[b"canonical_id"].decode(), parsed)

"""Stories in Redis: each story's syndication list and its canonical (most complete) copy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio as aioredis

# KEYS[1] = story hash, KEYS[2] = copies hash. ARGV = article id, copy json, text length,
# seen_at (epoch seconds), ttl. Idempotent per article id. Returns the number of copies.
_RECORD_COPY = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 1 then
  local first = redis.call('HGET', KEYS[1], 'first_seen')
  if not first or tonumber(ARGV[4]) < tonumber(first) then
    redis.call('HSET', KEYS[1], 'first_seen', ARGV[4])
  end
  local best = tonumber(redis.call('HGET', KEYS[1], 'canonical_length') or '-1')
  if tonumber(ARGV[3]) > best then
    redis.call('HSET', KEYS[1], 'canonical_id', ARGV[1], 'canonical_length', ARGV[3])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return redis.call('HLEN', KEYS[2])
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
        self._record = client.register_script(_RECORD_COPY)

    async def record_copy(self, story_id: str, article_id: str, *, outlet: str, url: str,
                          seen_at: float, text_length: int) -> int:
        """Add a copy (idempotent); returns how many outlets' copies the story has."""
        copy = msgspec.json.encode({"outlet": outlet, "url": url, "seen_at": seen_at})
        count = await self._record(
            keys=[f"{self.prefix}{story_id}", f"{self.prefix}{story_id}:copies"],
            args=[article_id, copy, text_length, seen_at, self.ttl])
        return int(count)

    async def record_copies(self, copies: list[tuple[str, str, str, str, float, int]],
                            ) -> list[int]:
        """`record_copy` for many (story, article, outlet, url, seen_at, length) in one
        round trip; returns each story's outlet count after its copy."""
        async with self.client.pipeline(transaction=False) as pipe:
            for story_id, article_id, outlet, url, seen_at, text_length in copies:
                copy = msgspec.json.encode({"outlet": outlet, "url": url, "seen_at": seen_at})
                await self._record(keys=[f"{self.prefix}{story_id}",
                                         f"{self.prefix}{story_id}:copies"],
                                   args=[article_id, copy, text_length, seen_at, self.ttl],
                                   client=pipe)
            return [int(count) for count in await pipe.execute()]

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

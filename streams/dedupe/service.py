"""The dedupe engine as the stream stage uses it: Redis index, site from the source."""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis
from wirewatch.streams.dedupe.engine import Doc, NearDupEngine, StoryAssignment
from wirewatch.streams.dedupe.index import RedisStoryIndex


def url_key(url: str | None) -> str | None:
    """Index key of a canonical URL: the same URL is always the same story."""
    return hashlib.blake2b(url.encode(), digest_size=12).hexdigest() if url else None


def dedupe_text(title: str, text: str) -> str:
    """What the engine compares: the headline line, then the body."""
    return f"{title}\n{text}" if title else text


class StoryAssigner:
    """One per worker: assigns articles to stories in the shared Redis index."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 window_seconds: float = 7 * 86400) -> None:
        self.engine = NearDupEngine(RedisStoryIndex(client, prefix=prefix,
                                                    window_seconds=window_seconds))

    async def assign(self, article_id: str, *, source: str, url: str | None, title: str,
                     text: str) -> StoryAssignment:
        (story,) = await self.assign_many([(article_id, source, url, title, text)])
        return story

    async def assign_many(self, docs: list[tuple[str, str, str | None, str, str]],
                          ) -> list[StoryAssignment]:
        """Batch form of `assign`: (article id, source, url, title, text) each."""
        return await self.engine.assign_many([
            Doc(article_id, source, dedupe_text(title, text), url_key(url))
            for article_id, source, url, title, text in docs])

"""Recent stories and deliveries, kept in capped Redis streams for the dashboard."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from alerts.records import Alert
from streams.records import Article

KEEP = 1000  # entries per stream (approximate trimming keeps XADD cheap)


@dataclass(frozen=True)
class StoryActivity:
    story_id: str
    title: str
    source: str
    url: str
    outlets: int
    at: float


@dataclass(frozen=True)
class Delivery:
    at: float
    channel: str
    subscription_id: str
    story_id: str
    title: str
    outcome: str  # sent, dead-lettered
    detail: str


def _text(fields: dict[bytes, bytes], name: str) -> str:
    return fields.get(name.encode(), b"").decode("utf-8", "replace")


class Activity:
    """Writes one entry per article and per delivery outcome; reads the latest back."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:") -> None:
        self.client = client
        self.stories_key = f"{prefix}activity:stories"
        self.deliveries_key = f"{prefix}activity:deliveries"

    async def record_articles(self, articles: list[Article]) -> None:
        if not articles:
            return
        now = time.time()
        async with self.client.pipeline(transaction=False) as pipe:
            for article in articles:
                pipe.xadd(self.stories_key, {
                    "story_id": article.story_id, "title": article.title,
                    "source": article.source, "url": article.url,
                    "outlets": article.outlets, "at": now}, maxlen=KEEP, approximate=True)
            await pipe.execute()

    async def record_delivery(self, alert: Alert, channel: str, outcome: str,
                              detail: str = "") -> None:
        await self.client.xadd(self.deliveries_key, {
            "at": time.time(), "channel": channel, "subscription_id": alert.subscription_id,
            "story_id": alert.story_id, "title": alert.title, "outcome": outcome,
            "detail": detail[:300]}, maxlen=KEEP, approximate=True)

    async def recent_stories(self, limit: int = 30) -> list[StoryActivity]:
        """The latest stories, each once, with the most outlets seen for it."""
        entries = await self.client.xrevrange(self.stories_key, count=KEEP)
        stories: dict[str, StoryActivity] = {}
        for _, fields in entries:
            story_id = _text(fields, "story_id")
            outlets = int(_text(fields, "outlets") or 1)
            known = stories.get(story_id)
            if known is None:
                if len(stories) == limit:
                    continue
                stories[story_id] = StoryActivity(
                    story_id, _text(fields, "title"), _text(fields, "source"),
                    _text(fields, "url"), outlets, float(_text(fields, "at") or 0))
            elif outlets > known.outlets:
                stories[story_id] = StoryActivity(known.story_id, known.title, known.source,
                                                  known.url, outlets, known.at)
        return list(stories.values())

    async def recent_deliveries(self, limit: int = 50) -> list[Delivery]:
        entries = await self.client.xrevrange(self.deliveries_key, count=limit)
        return [Delivery(float(_text(f, "at") or 0), _text(f, "channel"),
                         _text(f, "subscription_id"), _text(f, "story_id"), _text(f, "title"),
                         _text(f, "outcome"), _text(f, "detail")) for _, f in entries]

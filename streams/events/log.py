"""What the event pages show: each event's stories, outlets and tags, kept beside the index.

The event index (index.py) keeps what assignment needs; this keeps what people read: each
new story's headline and link, the outlets that carried any copy, and the topics and
entities tagged on its stories. Written by the normalise and tag steps, read by the pages;
every key expires with the event window.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import msgspec
import redis.asyncio as aioredis
from wirewatch.streams.events.index import event_of_record
from wirewatch.streams.records import Article, TaggedArticle

_json = msgspec.json.Encoder()


@dataclass(frozen=True)
class EventStory:
    story_id: str
    article_id: str
    title: str
    url: str
    source: str
    published: float


@dataclass(frozen=True)
class EventSummary:
    event_id: str
    first_seen: float
    last_seen: float
    stories: int
    outlets: int
    title: str  # the founding story's headline
    topics: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EventDetail:
    summary: EventSummary
    timeline: list[EventStory]  # by publication time
    outlets: list[str]


class EventLog:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 window_seconds: float = 72 * 3600) -> None:
        self.client = client
        self.prefix = f"{prefix}ev:"
        self.window = window_seconds
        self.ttl = max(1, int(window_seconds * 2))  # as the index keeps its stories

    def _event(self, event_id: str, part: str = "") -> str:
        return f"{self.prefix}e:{event_id}{part}"

    async def record_articles(self, articles: list[Article]) -> None:
        """Each new story's headline, and every copy's outlet, under its event."""
        placed = [a for a in articles if a.event_id]
        if not placed:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for article in placed:
                if not article.is_duplicate:
                    published = (article.published or article.fetched_at).timestamp()
                    pipe.hset(self._event(article.event_id, ":meta"), article.story_id,
                              _json.encode([article.article_id, article.title, article.url,
                                            article.source, published]))
                    pipe.expire(self._event(article.event_id, ":meta"), self.ttl)
                pipe.sadd(self._event(article.event_id, ":outlets"), article.source)
                pipe.expire(self._event(article.event_id, ":outlets"), self.ttl)
            await pipe.execute()

    async def record_tags(self, tagged: list[TaggedArticle]) -> None:
        """The topics and entities of each new story, counted per event."""
        firsts = [t for t in tagged if t.article.event_id and not t.article.is_duplicate]
        if not firsts:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for one in firsts:
                key = self._event(one.article.event_id, ":tags")
                for name in [f"topic:{t}" for t in one.topics] + [
                        f"entity:{e.id}" for e in one.entities]:
                    pipe.hincrby(key, name, 1)
                pipe.expire(key, self.ttl)
            await pipe.execute()

    async def recent(self, limit: int = 50, *, now: float | None = None) -> list[EventSummary]:
        """Events with news in the window, the latest first."""
        key = f"{self.prefix}recent"
        if now is not None:
            await self.client.zremrangebyscore(key, "-inf", now - self.window)
        ids = [raw.decode() for raw in await self.client.zrevrange(key, 0, limit - 1)]
        found = [await self._summary(event_id) for event_id in ids]
        return [summary for summary, _ in (f for f in found if f is not None)]

    async def load(self, event_id: str) -> EventDetail | None:
        found = await self._summary(event_id)
        if found is None:
            return None
        summary, meta = found
        timeline = sorted(meta, key=lambda s: (s.published, s.story_id))
        outlets = sorted(m.decode() for m in
                         await self.client.smembers(self._event(event_id, ":outlets")))
        return EventDetail(summary, timeline, outlets)

    async def _summary(self, event_id: str) -> tuple[EventSummary, list[EventStory]] | None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._event(event_id))
            pipe.hgetall(self._event(event_id, ":meta"))
            pipe.scard(self._event(event_id, ":outlets"))
            pipe.hgetall(self._event(event_id, ":tags"))
            head, meta, outlets, tags = await pipe.execute()
        if not head:
            return None
        stories = []
        for story_id, raw in meta.items():
            article_id, title, url, source, published = msgspec.json.decode(raw)
            stories.append(EventStory(story_id.decode(), article_id, title, url, source,
                                      float(published)))
        stories.sort(key=lambda s: (s.published, s.story_id))
        counted: Counter[str] = Counter({k.decode(): int(v) for k, v in tags.items()})
        top = [name for name, _ in counted.most_common()]

        def named(kind: str) -> list[str]:
            return [n.partition(":")[2] for n in top if n.startswith(f"{kind}:")][:8]

        founder = next((s for s in stories if s.story_id == event_id),
                       stories[0] if stories else None)
        return EventSummary(
            event_id=event_id, first_seen=float(head[b"first_seen"]),
            last_seen=float(head[b"last_seen"]), stories=int(head.get(b"stories", 1)),
            outlets=int(outlets) or 1, title=founder.title if founder else "(no headline)",
            topics=named("topic"), entities=named("entity")), stories

    async def event_of(self, story_id: str) -> str | None:
        raw = await self.client.get(f"{self.prefix}s:{story_id}")
        if raw is None:
            return None
        return event_of_record(raw)

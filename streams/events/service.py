"""The event engine as the stream uses it: profiles of new stories, events of their copies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from wirewatch.streams.events.engine import EventAssignment, EventEngine
from wirewatch.streams.events.index import RedisEventIndex
from wirewatch.streams.events.profile import build_profiles
from wirewatch.streams.events.similarity import EventModel


@dataclass(frozen=True)
class Placed:
    """An article's event and how many stories the event has once it is recorded."""

    event: EventAssignment
    stories: int


@dataclass(frozen=True)
class StoryItem:
    """One article as event assignment sees it."""

    story_id: str
    is_new_story: bool  # the story's first copy: it is profiled; later copies inherit
    title: str
    text: str
    published: float
    lang: str | None = None


class EventAssigner:
    """One per worker: events for a batch of articles in two or three Redis round trips."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:",
                 window_seconds: float = 72 * 3600, model: EventModel | None = None) -> None:
        self.index = RedisEventIndex(client, prefix=prefix, window_seconds=window_seconds)
        self.engine = EventEngine(self.index, model)

    async def assign_many(self, items: Sequence[StoryItem]) -> list[EventAssignment]:
        """Each article's event, in order; copies get their story's event."""
        return [placed.event for placed in await self.place_many(items)]

    async def place_many(self, items: Sequence[StoryItem]) -> list[Placed]:
        """`assign_many` with each event's story count after the batch."""
        first: dict[str, int] = {}
        for position, item in enumerate(items):
            if item.is_new_story:
                first.setdefault(item.story_id, position)
        founders = sorted(first.values())
        profiles = build_profiles([(items[p].title, items[p].text, items[p].published)
                                   for p in founders], [items[p].lang for p in founders])
        assigned = await self.engine.assign_many(
            [(items[p].story_id, profile) for p, profile in zip(founders, profiles,
                                                                 strict=True)])
        by_story = {items[p].story_id: event for p, event in zip(founders, assigned,
                                                                  strict=True)}
        missing = sorted({item.story_id for item in items if item.story_id not in by_story})
        for story_id, event_id in zip(missing, await self.index.events_of(missing),
                                      strict=True):
            # A copy whose story's first article was never profiled (it predates events,
            # or expired): the story is its own event rather than no event.
            by_story[story_id] = EventAssignment(event_id or story_id, event_id is None, 0.0)
        events = sorted({event.event_id for event in by_story.values()})
        counts = dict(zip(events, await self.index.story_counts(events), strict=True))
        return [Placed(by_story[item.story_id],
                       max(1, counts[by_story[item.story_id].event_id])) for item in items]

"""Trending entities: discovered names rising over their 7-day baseline, counted per day in Redis.

The tag stage records each tagged article's `discovered` (one count per name and article,
so a syndicated story counts once per copy, as readers see it); the dashboard asks which
names today are named in at least MIN_ARTICLES articles and at least RISE times their mean
of the previous BASELINE_DAYS days (both +1, so a new name needs MIN_ARTICLES, not zero),
and offers each as a watchlist entry with its aliases prefilled (`watch_entry`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis
from wirewatch.streams.records import DiscoveredEntity
from wirewatch.streams.tagging import companies
from wirewatch.streams.tagging.files import ENTITY_TYPES, Entity

BASELINE_DAYS = 7
MIN_ARTICLES = 3
RISE = 2.0
DAY = 86_400
_SEPARATOR = "\t"


@dataclass(frozen=True)
class Trend:
    """A name rising today: articles naming it today, its daily mean before, and the ratio."""

    name: str
    type: str
    company: str  # the knowledge base's id, when a listed company
    today: int
    baseline: float
    rise: float
    story_id: str = ""  # the latest story naming it today (the dashboard links it)


def rising(today: dict[str, int], history: list[dict[str, int]], *,
           least: int = MIN_ARTICLES, rise: float = RISE, limit: int = 20,
           stories: dict[str, str] | None = None) -> list[Trend]:
    """Names (as counted by TrendCounter) rising over their baseline, steepest first."""
    trends = []
    for field, count in today.items():
        baseline = sum(day.get(field, 0) for day in history) / BASELINE_DAYS
        ratio = (count + 1) / (baseline + 1)
        if count >= least and ratio >= rise:
            kind, name, company = (field.split(_SEPARATOR) + ["", ""])[:3]
            trends.append(Trend(name, kind, company, count, round(baseline, 2), round(ratio, 2),
                                (stories or {}).get(field, "")))
    trends.sort(key=lambda t: (-t.rise, -t.today, t.name))
    return trends[:limit]


def watch_entry(trend: Trend) -> Entity:
    """The watchlist entry "watch this" writes: a listed company's own entry, or the name as
    its alias (a person's surname too, counted only beside the full name, as Altman is)."""
    if trend.company:
        company = next((c for c in companies.load() if c.id == trend.company), None)
        if company is not None:
            return company.to_entity()
    entity_id = re.sub(r"[^a-z0-9]+", "-", trend.name.lower()).strip("-")[:60] or "entity"
    kind = trend.type if trend.type in ENTITY_TYPES else "other"
    words = trend.name.split()
    surname = (words[-1],) if kind == "person" and len(words) > 1 else ()
    return Entity(entity_id, trend.name, kind, (trend.name,), ambiguous_aliases=surname,
                  context=(trend.name,) if surname else ())


class TrendCounter:
    """Counts discovered names per UTC day in Redis hashes kept BASELINE_DAYS + 2 days."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, at: float) -> str:
        return f"{self.prefix}trending:{int(at // DAY)}"

    async def record(self, discovered: Iterable[Iterable[DiscoveredEntity]],
                     at: float | None = None, story_ids: Iterable[str] = ()) -> None:
        """Count one batch: an iterable per article of its discovered names, and with
        `story_ids` (one per article, in the same order) the latest story of each name."""
        key = self._key(time.time() if at is None else at)
        fields: dict[str, int] = {}
        latest: dict[str, str] = {}
        ids = iter(story_ids)
        for names in discovered:
            story_id = next(ids, "")
            for field in {_SEPARATOR.join((d.type, d.name, d.company)) for d in names}:
                fields[field] = fields.get(field, 0) + 1
                if story_id:
                    latest[field] = story_id
        if not fields:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for field, count in fields.items():
                pipe.hincrby(key, field, count)
            pipe.expire(key, (BASELINE_DAYS + 2) * DAY)
            if latest:
                pipe.hset(f"{key}:story", mapping=latest)
                pipe.expire(f"{key}:story", 2 * DAY)
            await pipe.execute()

    async def trending(self, at: float | None = None, limit: int = 20) -> list[Trend]:
        now = time.time() if at is None else at
        async with self.client.pipeline(transaction=False) as pipe:
            for days_ago in range(BASELINE_DAYS + 1):
                pipe.hgetall(self._key(now - days_ago * DAY))
            pipe.hgetall(f"{self._key(now)}:story")
            *days, stories = await pipe.execute()
        counted = [{_text(k): int(v) for k, v in day.items()} for day in days]
        return rising(counted[0], counted[1:], limit=limit,
                      stories={_text(k): _text(v) for k, v in stories.items()})


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value

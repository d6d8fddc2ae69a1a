"""Recent stories and deliveries, kept in capped Redis streams for the dashboard."""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgspec
import redis.asyncio as aioredis
from wirewatch.alerts.records import Alert
from wirewatch.streams.records import Article

KEEP = 1000  # entries per stream (approximate trimming keeps XADD cheap)

# KEYS[1] = the stories stream; ARGV[1] = KEEP, ARGV[2] = msgpack [[story id, title, source,
# url, outlets, at, lang], ...]. One call adds a whole batch: an XADD per article packed by the
# client cost the worker more CPU than the rest of its Redis work together.
_ADD_STORIES = """
local entries = cmsgpack.unpack(ARGV[2])
for n = 1, #entries do
  local e = entries[n]
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'story_id', e[1], 'title', e[2],
             'source', e[3], 'url', e[4], 'outlets', e[5], 'at', e[6], 'lang', e[7])
end
return #entries
"""
_msgpack = msgspec.msgpack.Encoder()


@dataclass(frozen=True)
class StoryActivity:
    story_id: str
    title: str
    source: str
    url: str
    outlets: int
    at: float
    lang: str = ""  # ISO 639-1 ("" for entries written before languages)


@dataclass(frozen=True)
class Circuit:
    """A channel's circuit breaker as a deliver process last reported it."""

    channel: str
    state: str  # closed, half-open, open
    since: float
    failures: int
    last_error: str
    instance: str


@dataclass(frozen=True)
class Delivery:
    at: float
    channel: str
    subscription_id: str
    story_id: str
    title: str
    outcome: str  # sent, dead-lettered
    detail: str
    event_id: str = ""


def _text(fields: dict[bytes, bytes], name: str) -> str:
    return fields.get(name.encode(), b"").decode("utf-8", "replace")


class Activity:
    """Writes one entry per article and per delivery outcome; reads the latest back."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "ww:") -> None:
        self.client = client
        self.stories_key = f"{prefix}activity:stories"
        self.deliveries_key = f"{prefix}activity:deliveries"
        self.circuits_key = f"{prefix}activity:circuits"
        self._add_stories = client.register_script(_ADD_STORIES)

    async def record_articles(self, articles: list[Article]) -> None:
        if not articles:
            return
        now = repr(time.time())
        # Only the newest KEEP can stay in the stream: a bigger batch's older ones are not sent.
        spec = _msgpack.encode([[a.story_id, a.title, a.source, a.url, str(a.outlets), now,
                                 a.lang] for a in articles[-KEEP:]])
        await self._add_stories(keys=[self.stories_key], args=[KEEP, spec])

    async def record_delivery(self, alert: Alert, channel: str, outcome: str,
                              detail: str = "") -> None:
        await self.client.xadd(self.deliveries_key, {
            "at": time.time(), "channel": channel, "subscription_id": alert.subscription_id,
            "story_id": alert.story_id, "title": alert.title, "outcome": outcome,
            "detail": detail[:300], "event_id": alert.event_id,
            "stories": ",".join(sorted({i.story_id for i in alert.digest}))},
            maxlen=KEEP, approximate=True)

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
                    _text(fields, "url"), outlets, float(_text(fields, "at") or 0),
                    _text(fields, "lang"))
            elif outlets > known.outlets:
                stories[story_id] = StoryActivity(known.story_id, known.title, known.source,
                                                  known.url, outlets, known.at, known.lang)
        return list(stories.values())

    async def recent_deliveries(self, limit: int = 50) -> list[Delivery]:
        entries = await self.client.xrevrange(self.deliveries_key, count=limit)
        return [Delivery(float(_text(f, "at") or 0), _text(f, "channel"),
                         _text(f, "subscription_id"), _text(f, "story_id"), _text(f, "title"),
                         _text(f, "outcome"), _text(f, "detail"), _text(f, "event_id"))
                for _, f in entries]

    async def deliveries_by_subscription(self) -> dict[str, list[Delivery]]:
        """Every kept delivery (the latest KEEP of all subscriptions) by subscription id,
        the latest first: a subscription's alert history, as far as it is kept."""
        grouped: dict[str, list[Delivery]] = {}
        for delivery in await self.recent_deliveries(KEEP):
            grouped.setdefault(delivery.subscription_id, []).append(delivery)
        return grouped

    async def record_circuit(self, circuit: Circuit) -> None:
        """The latest change of a channel's circuit (any deliver process's)."""
        await self.client.hset(self.circuits_key, circuit.channel,
                               msgspec.json.encode(circuit))

    async def circuits(self) -> list[Circuit]:
        """Every channel's last reported circuit state, by channel name."""
        found = await self.client.hgetall(self.circuits_key)
        return sorted((msgspec.json.decode(raw, type=Circuit) for raw in found.values()),
                      key=lambda c: c.channel)

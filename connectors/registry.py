"""The feed registry in Redis: feeds added from the command line or imported from OPML."""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as aioredis
from wirewatch.connectors.feeds_file import FeedSpec, spec_from_mapping, unique_feeds


class FeedRegistry:
    """Feeds keyed by feed id in one Redis hash; survives restarts, shared by all processes.

    Beside it, a set of disabled feed ids: any feed (a file's too) can be paused from the
    dashboard without editing the file it came from; connectors skip it until re-enabled.
    """

    def __init__(self, client: aioredis.Redis, prefix: str = "ww:") -> None:
        self.client = client
        self.key = f"{prefix}feeds"
        self.disabled_key = f"{prefix}feeds:disabled"

    async def add(self, specs: list[FeedSpec]) -> int:
        """Add or update feeds; returns how many were new."""
        if not specs:
            return 0
        existing = await self.client.hmget(self.key, [spec.feed_id for spec in specs])
        await self.client.hset(self.key, mapping={
            spec.feed_id: msgspec.json.encode({"url": spec.url, "name": spec.name,
                                               "interval_seconds": spec.interval_seconds,
                                               "full_text": spec.full_text})
            for spec in specs
        })
        return sum(value is None for value in existing)

    async def find(self, url_or_id: str) -> FeedSpec | None:
        """The registered feed with this URL or id, if any."""
        raw = await self.client.hget(self.key, feed_id_of(url_or_id))
        return None if raw is None else spec_from_mapping(
            msgspec.json.decode(raw), f"registry entry {feed_id_of(url_or_id)}")

    async def remove(self, url_or_id: str) -> bool:
        """Remove a feed by URL or id; False when it was not registered."""
        feed = feed_id_of(url_or_id)
        await self.client.srem(self.disabled_key, feed)
        return bool(await self.client.hdel(self.key, feed))

    async def disable(self, url_or_id: str) -> bool:
        """Stop polling a feed (registered or from a file); False when it already was."""
        return bool(await self.client.sadd(self.disabled_key, feed_id_of(url_or_id)))

    async def enable(self, url_or_id: str) -> bool:
        """Poll a disabled feed again; False when it was not disabled."""
        return bool(await self.client.srem(self.disabled_key, feed_id_of(url_or_id)))

    async def disabled(self) -> set[str]:
        return {member.decode() for member in await self.client.smembers(self.disabled_key)}

    async def polled(self, given: list[FeedSpec]) -> list[FeedSpec]:
        """What a connector polls: `merged(given)` without the disabled feeds."""
        off = await self.disabled()
        return [spec for spec in await self.merged(given) if spec.feed_id not in off]

    async def merged(self, given: list[FeedSpec]) -> list[FeedSpec]:
        """Every known feed: the given ones (a feeds file, the demo's) and the registry's,
        each feed once; the given spec wins over a registered one. Disabled ones included."""
        return unique_feeds(given + await self.list())

    async def list(self) -> list[FeedSpec]:
        entries: dict[bytes, bytes] = await self.client.hgetall(self.key)
        specs = []
        for feed_id, raw in entries.items():
            data: dict[str, Any] = msgspec.json.decode(raw)
            specs.append(spec_from_mapping(data, f"registry entry {feed_id.decode()}"))
        return sorted(specs, key=lambda spec: (spec.name.lower(), spec.url))


def feed_id_of(url_or_id: str) -> str:
    """An id as given, or the id of a URL (its canonical form's)."""
    if url_or_id.startswith(("http://", "https://")):
        return FeedSpec(url=url_or_id).feed_id
    return url_or_id

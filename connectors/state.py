"""Feed state in Redis: validators, poll schedule, error streak and seen item versions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

import msgspec
import redis.asyncio as aioredis
from wirewatch.connectors.fetch import Validators


@dataclass(frozen=True)
class FeedState:
    """What wirewatch remembers about one feed between polls and restarts."""

    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    error_class: str | None = None
    error_streak: int = 0
    last_success: float | None = None
    last_attempt: float | None = None
    next_poll: float = 0.0
    items_published: int = 0
    first_poll: float | None = None  # for items per day on the dashboard
    # The fetch set-up (feed spec, allowed networks, limits) the last error happened under:
    # after a restart with another one, the error's backoff no longer applies.
    failed_under: str | None = None

    @property
    def validators(self) -> Validators:
        return Validators(etag=self.etag, last_modified=self.last_modified)


@dataclass(frozen=True)
class FetchRecord:
    """One poll as the feed's page shows it: when, the answer, what it brought."""

    at: float
    status: int | None  # None: no HTTP answer (DNS, refused, timeout)
    published: int = 0
    error: str | None = None
    seconds: float = 0.0


FETCHES_KEPT = 20  # per feed: enough to see a pattern, small enough to read every refresh


class FeedStateStore:
    """Reads and writes FeedState and per-item content hashes under a key prefix."""

    def __init__(self, client: aioredis.Redis, prefix: str = "ww:") -> None:
        self.client = client
        self.prefix = prefix

    def _state_key(self, feed_id: str) -> str:
        return f"{self.prefix}feed:{feed_id}:state"

    def _items_key(self, feed_id: str) -> str:
        return f"{self.prefix}feed:{feed_id}:items"

    def _fetches_key(self, feed_id: str) -> str:
        return f"{self.prefix}feed:{feed_id}:fetches"

    async def load(self, feed_id: str) -> FeedState:
        return _state_from(await self.client.get(self._state_key(feed_id)))

    async def load_many(self, feed_ids: list[str]) -> list[FeedState]:
        """States of many feeds in one round trip (unknown feeds get a fresh state)."""
        if not feed_ids:
            return []
        raws = await self.client.mget([self._state_key(feed_id) for feed_id in feed_ids])
        return [_state_from(raw) for raw in raws]

    async def save(self, feed_id: str, state: FeedState,
                   fetched: FetchRecord | None = None) -> None:
        """Store the state and, after a poll, that poll in the feed's short history; one
        round trip either way."""
        if fetched is None:
            await self.client.set(self._state_key(feed_id), msgspec.json.encode(asdict(state)))
            return
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._state_key(feed_id), msgspec.json.encode(asdict(state)))
            pipe.lpush(self._fetches_key(feed_id), msgspec.json.encode(asdict(fetched)))
            pipe.ltrim(self._fetches_key(feed_id), 0, FETCHES_KEPT - 1)
            await pipe.execute()

    async def fetches(self, feed_id: str) -> list[FetchRecord]:
        """The feed's latest polls, newest first."""
        raws = await self.client.lrange(self._fetches_key(feed_id), 0, FETCHES_KEPT - 1)
        return [dataclass_from_json(FetchRecord, raw) for raw in raws]

    async def poll_soon(self, feed_id: str) -> None:
        """Make the feed due at the connector's next tick, whatever its schedule or backoff."""
        state = await self.load(feed_id)
        await self.save(feed_id, replace(state, next_poll=0.0))

    async def item_hashes(self, feed_id: str, item_ids: list[str]) -> dict[str, str]:
        """Content hash last published for each item id (absent ids are new items)."""
        if not item_ids:
            return {}
        values = await self.client.hmget(self._items_key(feed_id), item_ids)
        return {
            item: value.decode() if isinstance(value, bytes) else value
            for item, value in zip(item_ids, values, strict=True)
            if value is not None
        }

    async def record_items(self, feed_id: str, hashes: dict[str, str]) -> None:
        if hashes:
            await self.client.hset(self._items_key(feed_id), mapping=hashes)


Stored = TypeVar("Stored")


def dataclass_from_json(cls: type[Stored], raw: bytes | str) -> Stored:
    """A dataclass from its stored JSON, ignoring fields an older or newer version wrote."""
    data: dict[str, Any] = msgspec.json.decode(raw)
    known = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return cls(**{k: v for k, v in data.items() if k in known})


def _state_from(raw: bytes | None) -> FeedState:
    return FeedState() if raw is None else dataclass_from_json(FeedState, raw)

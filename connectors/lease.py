"""A lease on a connector shard in Redis, so two instances never poll the same feeds.

Sharding alone trusts the configuration: two instances started as shard 1/3 (a copy-paste
slip, or a pod still draining while its replacement starts) would both poll every feed of
the shard. The lease makes that impossible: an instance polls only while it holds the
shard's key, which it renews well inside the expiry and gives back on a clean stop. A
crashed holder's lease runs out after `ttl_seconds`, and a waiting instance takes over.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import redis.asyncio as aioredis
import redis.exceptions
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.poller import FeedPoller, poll_with_refresh

log = logging.getLogger(__name__)
T = TypeVar("T")

# Renew or release only our own lease: compare the token, then act, in one atomic step.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class ShardLease:
    """The lease on one shard; `holder` names this instance in the key for operators."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, shard: str, holder: str,
                 ttl_seconds: float = 30.0) -> None:
        self.client = client
        self.key = f"{prefix}connector:shard:{shard}"
        self.token = f"{holder}:{secrets.token_hex(8)}"
        self.ttl_ms = int(ttl_seconds * 1000)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def renew_every(self) -> float:
        """Seconds between renewals: three chances before the lease would run out."""
        return self.ttl_ms / 3000

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it (or we already do)."""
        if await self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend the lease; False when it is no longer ours (it expired and was taken)."""
        return bool(await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.token])

    async def holder(self) -> str | None:
        """Who holds the lease now (the holder part of its token), if anyone."""
        value = await self.client.get(self.key)
        return value.decode().rsplit(":", 1)[0] if value else None


@dataclass
class LeaseStatus:
    """What a sharded connector is doing, for its /readyz and logs."""

    shard: str
    holding: bool = False
    holder: str | None = None  # who holds the shard while we wait
    feed_ids: list[str] = field(default_factory=list)  # what it polls while holding

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def not_ready(self) -> list[str]:
        if self.holding:
            return []
        return [f"waiting for shard {self.shard}'s lease"
                + (f" (held by {self.holder})" if self.holder else "")]


async def poll_while_held(poller: FeedPoller, lease: ShardLease,
                          feeds: Callable[[], Awaitable[list[FeedSpec]]], *,
                          refresh_seconds: float, status: LeaseStatus) -> None:
    """Poll the shard's feeds while this instance holds its lease; wait while another does.
    Feeds are re-read every `refresh_seconds`. A lease that cannot be renewed (taken over,
    or Redis unreachable so nobody can tell) stops the polls before it can run out."""
    try:
        while True:
            if not await _attempt(lease.acquire, False):
                holder = await _attempt(lease.holder, None)
                if not status.holding and holder != status.holder:
                    log.warning("shard %s is held by %s: waiting", status.shard, holder)
                status.holding, status.holder = False, holder
                await asyncio.sleep(lease.renew_every)
                continue
            status.holding, status.holder = True, None
            log.warning("polling shard %s", status.shard)
            await _poll_until_lost(poller, lease, feeds, refresh_seconds, status)
            status.holding = False
    finally:
        status.holding = False
        await _attempt(lease.release, None)


async def _poll_until_lost(poller: FeedPoller, lease: ShardLease,
                           feeds: Callable[[], Awaitable[list[FeedSpec]]],
                           refresh_seconds: float, status: LeaseStatus) -> None:
    try:
        poller.replace_feeds(await feeds())
    except Exception:  # noqa: BLE001 - Redis down: try again after a pause, lease and all
        log.exception("could not read the feed registry")
        await asyncio.sleep(lease.renew_every)
        return
    status.feed_ids = [spec.feed_id for spec in poller.feeds]

    async def current() -> list[FeedSpec]:
        found = await feeds()
        status.feed_ids = [spec.feed_id for spec in found]
        return found

    async def still_held() -> bool:
        if await _attempt(lease.renew, False):
            return True
        log.error("lost the lease on shard %s: polls stop", status.shard)
        return False

    await poll_with_refresh(poller, current, refresh_seconds, check_every=lease.renew_every,
                            still_ours=still_held)


async def _attempt(call: Callable[[], Awaitable[T]], failed: T) -> T:
    """The call's result, or `failed` when Redis cannot be reached (logged)."""
    try:
        return await call()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        log.warning("shard lease: Redis unreachable: %s", exc)
        return failed

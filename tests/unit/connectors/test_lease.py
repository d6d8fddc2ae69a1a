"""The shard lease in a real Redis: one holder at a time, renewal, release, takeover."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

import pytest
import redis.asyncio as aioredis
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.lease import LeaseStatus, ShardLease, poll_while_held
from wirewatch.connectors.poller import FeedPoller

pytestmark = pytest.mark.redis


def lease(client: aioredis.Redis, unique: str, holder: str, ttl: float = 30.0) -> ShardLease:
    return ShardLease(client, prefix=f"test:{unique}:", shard="1/3", holder=holder,
                      ttl_seconds=ttl)


async def test_one_holder_at_a_time(redis_client: aioredis.Redis, unique: str) -> None:
    first, second = lease(redis_client, unique, "a"), lease(redis_client, unique, "b")
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.acquire()  # holding it already counts
    assert await second.holder() == "a"
    await second.release()  # not its lease: nothing happens
    assert await first.renew() and await first.holder() == "a"
    await first.release()
    assert await second.acquire() and await first.holder() == "b"
    assert not await first.renew()


async def test_an_unrenewed_lease_runs_out_and_can_be_taken(redis_client: aioredis.Redis,
                                                           unique: str) -> None:
    crashed, waiting = lease(redis_client, unique, "a", ttl=0.2), lease(redis_client, unique, "b")
    assert await crashed.acquire()
    await wait_until(waiting.acquire, "the expired lease to be taken")
    assert not await crashed.renew()


class StubPoller:
    """Stands in for FeedPoller: records the feeds it was given and whether it polls."""

    def __init__(self) -> None:
        self.feeds: list[FeedSpec] = []
        self.polling = False

    def replace_feeds(self, feeds: list[FeedSpec]) -> None:
        self.feeds = feeds

    async def run_forever(self) -> None:
        self.polling = True
        try:
            await asyncio.Event().wait()
        finally:
            self.polling = False


async def test_a_second_instance_of_a_shard_waits_then_takes_over(
        redis_client: aioredis.Redis, unique: str) -> None:
    feeds = [FeedSpec(url=f"https://example.com/{n}.xml") for n in range(3)]
    registry = list(feeds[:2])

    async def shard_feeds() -> list[FeedSpec]:
        return list(registry)

    pollers, statuses, tasks = [], [], []
    for holder in ("a", "b"):
        poller, status = StubPoller(), LeaseStatus("1/3")
        pollers.append(poller)
        statuses.append(status)
        tasks.append(asyncio.create_task(poll_while_held(
            cast(FeedPoller, poller), lease(redis_client, unique, holder, ttl=0.6),
            shard_feeds, refresh_seconds=0.1, status=status)))
        await wait_until(lambda: _true(pollers[0].polling), "the first instance to poll")
    first, second = pollers
    try:
        await wait_until(lambda: _true(statuses[1].holder == "a"), "b to see a holding")
        assert first.polling and not second.polling
        assert statuses[1].not_ready() == ["waiting for shard 1/3's lease (held by a)"]
        assert statuses[0].not_ready() == []
        registry.append(feeds[2])  # a feed added to the registry is picked up
        await wait_until(lambda: _true(len(first.feeds) == 3), "the registry refresh")
        assert statuses[0].feed_ids == [spec.feed_id for spec in feeds]

        tasks[0].cancel()  # a clean stop gives the lease back at once
        await asyncio.gather(tasks[0], return_exceptions=True)
        assert not first.polling
        await wait_until(lambda: _true(second.polling), "b to take the shard over")
        assert statuses[1].holding and len(second.feeds) == 3
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _true(value: bool) -> bool:
    return value


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str,
                     timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not await condition():
            await asyncio.sleep(0.02)
    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None

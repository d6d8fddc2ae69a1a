"""Workers go 1 -> 2 -> 1 while items flow: no item skipped, no commit stuck.

A second worker joins (the group rebalances and it takes half of the partitions), then
leaves with SIGTERM (it commits what it processed and its partitions go back). At the end
every item is in news.articles.v1 and the group's committed offsets reach the end of every
partition (lag 0), measured the way the dashboard measures it (wirewatch.streams.ops.lag).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wirewatch.streams.embedded import free_port
from wirewatch.streams.ops.lag import measure

from bench.corpus import raw_items
from tests.reliability.results import record
from tests.support.processes import wait_for
from tests.support.roles import ArticleLog, Role, pipeline_env, produce_steadily

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow, pytest.mark.apache_kafka]

ITEMS = 6000
PARTITIONS = 4


async def test_one_two_one_workers_while_items_flow(broker, redis_server, unique, topic_factory,
                                                    tmp_path: Path) -> None:
    topics = await topic_factory(partitions=PARTITIONS, prefix=f"{unique}.")
    items = list(raw_items(ITEMS, seed=13, start=datetime.now(UTC) - timedelta(hours=1)))
    ids = {item.item_id for item in items}

    def env(name: str) -> dict[str, str]:
        return pipeline_env(bootstrap=broker.bootstrap, redis_url=redis_server, unique=unique,
                            directory=tmp_path / name, idempotent=broker.idempotent,
                            partitions=PARTITIONS, WIREWATCH_WEB_PORT=str(free_port()))

    raw = {f"{topics.raw}:{p}" for p in range(PARTITIONS)}

    def share(role: Role) -> set[str]:
        return role.assigned() & raw

    articles = ArticleLog(broker.bootstrap, topics.articles)
    reader = asyncio.create_task(articles.run())
    first = Role(["worker"], env("first"), tmp_path / "first.log")
    second: Role | None = None
    load: asyncio.Task[None] | None = None
    timings: dict[str, float] = {}
    try:
        await asyncio.to_thread(wait_for, lambda: share(first) == raw, 120, "worker 1 ready")
        load = asyncio.create_task(produce_steadily(broker.bootstrap, topics.raw, items, 200))
        await asyncio.to_thread(wait_for, lambda: len(articles.seen) >= ITEMS // 5, 120,
                                "items flowing through one worker")
        started = time.monotonic()
        second = Role(["worker"], env("second"), tmp_path / "second.log")
        joined = second
        await asyncio.to_thread(wait_for, lambda: share(joined) and share(first)
                                and share(joined) | share(first) == raw, 120,
                                "the partitions split over two workers")
        timings["one_to_two_seconds"] = round(time.monotonic() - started, 1)
        at_two = len(articles.seen)
        await asyncio.to_thread(wait_for, lambda: len(articles.seen) >= at_two + ITEMS // 5,
                                120, "items flowing through two workers")
        started = time.monotonic()
        second.close()  # SIGTERM: it commits and leaves the group
        assert second.process.returncode == 0, second.log.read_text()[-3000:]
        await asyncio.to_thread(wait_for, lambda: share(first) == raw, 120,
                                "worker 1 to take every partition back")
        timings["two_to_one_seconds"] = round(time.monotonic() - started, 1)
        await load
        await asyncio.to_thread(wait_for, lambda: ids <= articles.seen.keys(), 180,
                                "every item in news.articles.v1")
        lag: list[int] = []

        def caught_up() -> bool:
            lag[:] = [p.lag for p in asyncio.run(measure(broker.bootstrap, f"ww-{unique}",
                                                         [topics.raw], []))[0]]
            return len(lag) == PARTITIONS and not any(lag)

        await asyncio.to_thread(wait_for, caught_up, 60, "committed offsets at the end")
    except AssertionError:
        for role in (first, second):
            if role is not None:
                print(f"== {role.log.name}\n{role.log.read_text()[-3000:]}")
        raise
    finally:
        if load is not None:
            load.cancel()
            await asyncio.gather(load, return_exceptions=True)
        first.close()
        if second is not None:
            second.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert set(articles.seen) == ids
    repeated = sum(articles.seen.values()) - len(articles.seen)
    record("test_rebalance", {
        "fault": "workers 1 -> 2 -> 1 under load",
        "what_happened": f"partitions split in {timings['one_to_two_seconds']} s and came back "
                         f"in {timings['two_to_one_seconds']} s; lag 0 at the end; "
                         f"{repeated} articles processed twice",
        "items_lost": len(ids - set(articles.seen)), "duplicates": 0,
        "recovery_seconds": max(timings.values()), **timings, "articles_repeated": repeated})

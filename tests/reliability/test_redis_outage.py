"""Redis stopped for 30 s under load: the worker pauses and carries on, losing nothing.

The chosen behaviour (DESIGN.md, wirewatch.streams.app): a stage whose Redis call fails with a
connection error waits and retries the same batch (backing off to 5 s), its partitions
paused, nothing committed; nothing is dead-lettered for an infrastructure fault and the
process does not exit. Deliveries wait in the outbox. When Redis is back, every item goes
through and every alert goes out once.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wirewatch.alerts.records import Alert
from wirewatch.streams.embedded import free_port, start_redis

from bench.corpus import raw_items
from tests.reliability.results import record
from tests.support.processes import wait_for
from tests.support.roles import (
    ArticleLog,
    Role,
    alerting_worker_env,
    expected_stories,
    metric_value,
    produce_steadily,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ITEMS = 3000
OUTAGE_SECONDS = 30.0


async def test_a_30_second_redis_outage_pauses_the_worker_and_loses_nothing(
        broker, unique, topic_factory, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=2, prefix=f"{unique}.")
    redis_port = free_port()
    redis, redis_url = start_redis(tmp_path / "redis", tmp_path, port=redis_port)
    delivered: list[Alert] = []
    sink, env = await alerting_worker_env(
        tmp_path, delivered, bootstrap=broker.bootstrap, redis_url=redis_url, unique=unique,
        idempotent=broker.idempotent, partitions=2)
    items = list(raw_items(ITEMS, seed=9, start=datetime.now(UTC) - timedelta(hours=2)))
    ids = {item.item_id for item in items}
    articles = ArticleLog(broker.bootstrap, topics.articles)
    reader = asyncio.create_task(articles.run())
    worker = Role(["worker"], env, tmp_path / "worker.log")
    load: asyncio.Task[None] | None = None
    try:
        await asyncio.to_thread(wait_for, lambda: worker.status().get("snapshot") is not None,
                                120, "the worker to start")
        load = asyncio.create_task(produce_steadily(broker.bootstrap, topics.raw, items, 150))
        await asyncio.to_thread(wait_for, lambda: len(articles.seen) >= ITEMS // 4, 120,
                                "a quarter of the items before the outage")
        redis.stop()
        down_at = len(articles.seen)
        await asyncio.sleep(OUTAGE_SECONDS)  # the fault itself: Redis stays away this long
        assert worker.process.poll() is None, "the worker exited while Redis was down"
        during = len(articles.seen) - down_at  # a batch in flight may still finish
        processed_before = metric_value(worker.port, "wirewatch_stage_items_total",
                                        stage="normalise", direction="in")
        redis, _ = start_redis(tmp_path / "redis", tmp_path, port=redis_port)
        back = time.monotonic()
        await asyncio.to_thread(wait_for, lambda: metric_value(
            worker.port, "wirewatch_stage_items_total", stage="normalise",
            direction="in") > processed_before, 60, "the worker to resume")
        recovery = round(time.monotonic() - back, 1)
        await load
        await asyncio.to_thread(wait_for, lambda: ids <= articles.seen.keys(), 180,
                                "every item in news.articles.v1")
        expected = expected_stories(articles, ids)
        await asyncio.to_thread(wait_for, lambda: expected <= {a.story_id for a in delivered},
                                60, f"{len(expected)} alerts")
        dead_lettered = metric_value(worker.port, "wirewatch_stage_dead_lettered_total",
                                     stage="normalise")
    except AssertionError:
        print(worker.log.read_text()[-3000:])
        raise
    finally:
        if load is not None:
            load.cancel()
            await asyncio.gather(load, return_exceptions=True)
        worker.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await sink.cleanup()
        redis.stop()
    duplicates = len(delivered) - len({a.alert_id for a in delivered})
    record("test_redis_outage", {
        "fault": f"Redis stopped for {OUTAGE_SECONDS:.0f} s under load",
        "what_happened": f"stages paused and retried (no exit, nothing dead-lettered); "
                         f"{during} articles finished during the outage; all went on after",
        "items_lost": len(ids - set(articles.seen)), "duplicates": duplicates,
        "recovery_seconds": recovery, "alerts": len(expected), "dead_lettered": dead_lettered})
    assert set(articles.seen) == ids and {a.story_id for a in delivered} == expected
    assert duplicates == 0 and dead_lettered == 0
    assert during <= 512  # at most the batches already past Redis when it went

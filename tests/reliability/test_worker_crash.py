"""kill -9 a stream worker at random points while 10,000 items flow, then restart it.

Every raw item must reach news.articles.v1 (counted by id) and every expected alert must
reach the channel. Alerts go out from a `wirewatch deliver` process, as in a cluster
(WIREWATCH_WORKER_DELIVERS=false), so a stream worker's crash repeats none: the worker
only queues them, and queueing is idempotent. Its numbers go to test-artifacts/reliability/
(tests/reliability/results.py).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wirewatch.alerts.records import Alert
from wirewatch.streams.embedded import free_port

from bench.corpus import raw_items
from bench.harness import produce_items
from tests.reliability.results import record
from tests.support.processes import wait_for
from tests.support.roles import (
    ArticleLog,
    Role,
    alerting_worker_env,
    expected_stories,
    metric_value,
)

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

ITEMS = 10_000
CRASHES = 3


async def test_a_worker_killed_at_random_points_loses_nothing(
        broker, redis_server, unique, topic_factory, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=4, prefix=f"{unique}.")
    items = list(raw_items(ITEMS, seed=5, start=datetime.now(UTC) - timedelta(days=1)))
    await produce_items(broker.bootstrap, topics.raw, items)
    ids = {item.item_id for item in items}

    delivered: list[Alert] = []
    sink, env = await alerting_worker_env(
        tmp_path, delivered, bootstrap=broker.bootstrap, redis_url=redis_server, unique=unique,
        idempotent=broker.idempotent, partitions=4, WIREWATCH_WORKER_DELIVERS="false")
    seed = random.randrange(1 << 30)
    kill_points = sorted(random.Random(seed).sample(range(1000, ITEMS - 1000), CRASHES))
    articles = ArticleLog(broker.bootstrap, topics.articles)
    reader = asyncio.create_task(articles.run())
    workers: list[Role] = []
    recoveries: list[float] = []
    try:
        workers.append(Role(["deliver"], env | {"WIREWATCH_WEB_PORT": str(free_port())},
                            tmp_path / "deliver.log"))
        deliverer = workers[0]
        workers.append(Role(["worker"], env, tmp_path / "worker0.log"))
        for number, point in enumerate(kill_points, start=1):
            await asyncio.to_thread(wait_for, lambda p=point: len(articles.seen) >= p, 240,
                                    f"{point} articles before crash {number}")
            workers[-1].process.send_signal(signal.SIGKILL)
            workers[-1].process.wait(30)
            restarted = time.monotonic()
            workers.append(Role(["worker"], env, tmp_path / f"worker{number}.log"))
            port = workers[-1].port
            await asyncio.to_thread(wait_for, lambda port=port: metric_value(
                port, "wirewatch_stage_items_total", stage="normalise", direction="in") > 0,
                240, f"the restarted worker's first batch after crash {number}")
            recoveries.append(round(time.monotonic() - restarted, 1))
        await asyncio.to_thread(wait_for, lambda: ids <= articles.seen.keys(), 300,
                                "every raw item in news.articles.v1")
        expected = expected_stories(articles, ids)
        await asyncio.to_thread(wait_for, lambda: expected <= {a.story_id for a in delivered},
                                120, f"{len(expected)} Microsoft alerts")
        # Every one of them went out from the deliver process, none from a stream worker.
        await asyncio.to_thread(wait_for, lambda: metric_value(
            deliverer.port, "wirewatch_alerts_sent_total", channel="sink") >= len(delivered),
            30, "the deliver process to count what it sent")
        sent_by_deliver = metric_value(deliverer.port, "wirewatch_alerts_sent_total",
                                       channel="sink")
    except AssertionError:
        print("\n".join(f"== {w.log.name}\n{w.log.read_text()[-3000:]}" for w in workers))
        raise
    finally:
        for worker in workers:
            worker.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await sink.cleanup()
    assert set(articles.seen) == ids
    assert {a.story_id for a in delivered} == expected and expected
    duplicates = len(delivered) - len({a.alert_id for a in delivered})
    repeated = sum(articles.seen.values()) - len(articles.seen)
    record("test_worker_crash", {
        "fault": f"stream worker killed with SIGKILL, {CRASHES} times in {ITEMS:,} items",
        "what_happened": f"restarted worker went on from the last commit; {repeated} articles "
                         f"processed twice; {len(expected)} alerts, each delivered (by a "
                         "separate deliver process)",
        "items_lost": len(ids - set(articles.seen)), "duplicates": duplicates,
        "recovery_seconds": max(recoveries), "recoveries": recoveries, "seed": seed,
        "kill_points": kill_points, "articles_repeated": repeated})
    assert sent_by_deliver == len(delivered)
    # The bound is one per crash; out of the worker's process it is none.
    assert duplicates <= CRASHES
    assert duplicates == 0

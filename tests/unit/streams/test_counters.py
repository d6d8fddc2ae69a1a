"""Counters summed over workers through Redis, as the dashboard of `wirewatch web` shows them."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from wirewatch.alerts import metrics as alert_metrics
from wirewatch.streams.ops import metrics
from wirewatch.streams.ops.counters import (
    ClusterCounters,
    channel_counts,
    failures,
    local_totals,
    section,
    stage_counts,
)

pytestmark = pytest.mark.redis


async def test_totals_of_every_live_worker_are_summed(redis_client: aioredis.Redis,
                                                      unique: str) -> None:
    prefix = f"test:{unique}:"
    one = ClusterCounters(redis_client, prefix=prefix, instance="w1", ttl_seconds=30)
    two = ClusterCounters(redis_client, prefix=prefix, instance="w2", ttl_seconds=1)
    web = ClusterCounters(redis_client, prefix=prefix, instance=None, ttl_seconds=30)
    await one.publish({"stage|normalise|in": 10.0, "articles|duplicate": 2.0})
    await two.publish({"stage|normalise|in": 5.0, "stage|normalise|out": 5.0})
    await web.publish({"stage|normalise|in": 99.0})  # the web role has nothing to add
    totals = await web.sum()
    assert totals == {"stage|normalise|in": 15.0, "stage|normalise|out": 5.0,
                      "articles|duplicate": 2.0}
    assert stage_counts(totals) == {"normalise": {"in": 15.0, "out": 5.0}}
    assert section(totals, "articles") == {"duplicate": 2.0}

    async def two_expired() -> None:  # a stopped worker drops out after its expiry
        while (await web.sum()).get("stage|normalise|out") is not None:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(two_expired(), 10)
    assert await web.sum() == {"stage|normalise|in": 10.0, "articles|duplicate": 2.0}


def test_local_totals_flatten_this_process_counters() -> None:
    before = local_totals().get("stage|tag|in", 0.0)
    metrics.STAGE_ITEMS.labels("tag", "in").inc(3)
    totals = local_totals()
    assert totals["stage|tag|in"] == before + 3
    assert {"alerts|sent", "alerts|retried", "alerts|dead_lettered"} <= totals.keys()


def test_channels_are_counted_one_by_one_and_deliver_counts_what_it_delivered() -> None:
    before = local_totals()
    alert_metrics.SENT.labels("counted-hook").inc(2)
    alert_metrics.RETRIED.labels("counted-hook", "timeout").inc()
    totals = local_totals()
    assert channel_counts(totals)["counted-hook"] == {
        "sent": before.get("channel|counted-hook|sent", 0.0) + 2,
        "retried": before.get("channel|counted-hook|retried", 0.0) + 1,
        "dead_lettered": before.get("channel|counted-hook|dead_lettered", 0.0)}
    # Two alerts sent: the deliver stage shows them as its output, not "out 0".
    assert stage_counts(totals)["deliver"]["out"] == totals["alerts|sent"]
    assert totals["alerts|sent"] >= 2


def test_failures_sum_every_kind_of_failure() -> None:
    totals = {"dead_lettered|tag": 2.0, "dead_lettered|match": 1.0, "alerts|retried": 3.0,
              "alerts|dead_lettered": 1.0, "feeds|errors": 4.0, "alerts|sent": 9.0}
    assert failures(totals) == 11.0
    assert failures({}) == 0.0

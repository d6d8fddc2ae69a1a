"""Pure parts of operations: feed health, problems, plots and the status text."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.state import FeedState
from wirewatch.streams.ops import metrics
from wirewatch.streams.ops.activity import Activity, Circuit
from wirewatch.streams.ops.charts import sparkline
from wirewatch.streams.ops.lag import PartitionLag
from wirewatch.streams.ops.monitor import Monitor, Snapshot, feed_row, problems
from wirewatch.streams.ops.when import ago, when
from wirewatch.streams.tagging import Tagger

from wirewatch.cli.status import render

NOW = 1_800_000_000.0


def snapshot(**changes: object) -> Snapshot:
    values: dict[str, object] = dict(
        taken_at=NOW, kafka_ok=True, redis_ok=True, errors=[], lag=[
            PartitionLag("news.raw.v1", 0, 120, 100), PartitionLag("news.raw.v1", 1, 7, None)],
        topic_records={"news.raw.v1": 127, "news.dlq.v1": 0}, feeds=[], stages={
            "normalise": {"in": 100.0, "out": 100.0, "in_per_s": 2.5, "out_per_s": 2.5}},
        dead_lettered={}, alerts={"sent": 3.0, "retried": 0.0, "dead_lettered": 0.0},
        articles={"new_story": 60.0, "duplicate": 40.0})
    values.update(changes)
    return Snapshot(**values)  # type: ignore[arg-type]


def test_feed_health_follows_the_error_streak() -> None:
    spec = FeedSpec(url="https://example.com/feed", name="Example")
    assert feed_row(spec, FeedState(), NOW).state == "new"
    assert feed_row(spec, FeedState(last_attempt=NOW), NOW).state == "ok"
    assert feed_row(spec, FeedState(last_attempt=NOW, error_streak=2), NOW).state == "erroring"
    assert feed_row(spec, FeedState(last_attempt=NOW, error_streak=3), NOW).state == "failing"
    two_days = FeedState(last_attempt=NOW, first_poll=NOW - 2 * 86400, items_published=50)
    assert feed_row(spec, two_days, NOW).items_per_day == 25.0


def test_lag_counts_uncommitted_partitions_from_zero() -> None:
    assert snapshot().total_lag == 20 + 7


def test_problems_rank_what_breaks_the_stream_first() -> None:
    assert problems(snapshot(), max_lag=1000, dlq_records="news.dlq.v1") == []
    assert problems(None, max_lag=1000, dlq_records="x")[0].severity == "critical"
    found = problems(snapshot(redis_ok=False, errors=["Redis: ConnectionError"],
                              topic_records={"news.dlq.v1": 2}),
                     max_lag=10, dlq_records="news.dlq.v1")
    assert [p.severity for p in found] == ["critical", "critical", "warning"]
    assert "Redis unreachable" in found[0].what and "lag 27" in found[1].what
    assert "2 record(s) in the dead-letter topic" in found[2].what
    failing = feed_row(FeedSpec(url="https://b.example/f", name="Broken"),
                       FeedState(last_attempt=NOW, error_streak=5), NOW)
    [feeds] = problems(snapshot(feeds=[failing]), max_lag=1000, dlq_records="news.dlq.v1")
    assert feeds.severity == "warning" and "Broken" in feeds.what


def test_a_paused_channel_is_a_problem_and_a_closed_one_is_not() -> None:
    circuits = [Circuit("team-slack", "open", NOW, 5, "HTTP 503", "w1"),
                Circuit("mail", "closed", NOW, 0, "", "w1")]
    [paused] = problems(snapshot(circuits=circuits), max_lag=1000, dlq_records="news.dlq.v1")
    assert paused.severity == "warning"
    assert paused.what == ("channel team-slack paused (circuit open after 5 failures in a "
                           "row): HTTP 503")


async def test_circuits_are_shared_through_redis(redis_client: aioredis.Redis,
                                                 unique: str) -> None:
    activity = Activity(redis_client, prefix=f"{unique}:")
    await activity.record_circuit(Circuit("hook", "open", NOW, 5, "HTTP 503", "w1"))
    await activity.record_circuit(Circuit("hook", "half-open", NOW + 30, 5, "HTTP 503", "w2"))
    await activity.record_circuit(Circuit("a-mail", "closed", NOW, 0, "", "w1"))
    assert [(c.channel, c.state, c.instance) for c in await activity.circuits()] == [
        ("a-mail", "closed", "w1"), ("hook", "half-open", "w2")]


def test_sparkline_scales_to_the_box_and_escapes_its_label() -> None:
    svg = sparkline([0.0, 5.0, 10.0], width=100, height=20, label="<tag> rate")
    assert 'points="0.0,18.0 50.0,10.0 100.0,2.0"' in svg
    assert "&lt;tag&gt;" in svg and "<tag>" not in svg
    assert "polyline" not in sparkline([3.0], label="one point")


def test_status_text_shows_verdict_stages_and_lag() -> None:
    document = {"healthy": False, "problems": [{"severity": "critical", "what": "lag"}],
                "snapshot": {**snapshot(taken_at=time.time()).to_json()}}
    text = render(document)
    assert text.startswith("wirewatch is UNHEALTHY\n  critical: lag")
    assert "normalise" in text and "consumer lag: 27" in text
    assert ["news.raw.v1", "1", "7", "-", "7"] in [line.split() for line in text.splitlines()]


def test_moments_read_as_how_long_ago_or_how_soon() -> None:
    assert ago(None) == "never" and when(None) == "-"
    assert ago(NOW - 12, now=NOW) == "12 s ago"
    assert ago(NOW + 300, now=NOW) == "in 5 min"
    assert ago(NOW - 5400, now=NOW) == "1.5 h ago"
    assert when(NOW) == "2027-01-15 08:00:00"


async def test_monitor_stops_when_a_library_swallowed_its_cancellation() -> None:
    # aiokafka sometimes swallows a cancellation inside measure(); the monitor then kept
    # a SIGTERM'd worker from stopping (tests/reliability/test_rebalance.py).
    class Swallowing(Monitor):
        async def take(self) -> Snapshot:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # what the library did
            return snapshot()

    client = aioredis.Redis.from_url("redis://127.0.0.1:1")  # never connected
    monitor = Swallowing(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                         dlq_topic="dlq", redis_client=client, redis_prefix="unused:",
                         feeds=list, interval=3600)
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    await client.aclose()


def test_a_watched_cache_exports_its_fill_level_when_scraped() -> None:
    entries = [3]
    metrics.watch_cache("test-cache", lambda: entries[0], 10)

    def sample(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"cache": "test-cache"})

    assert (sample("wirewatch_cache_entries"), sample("wirewatch_cache_capacity")) == (3, 10)
    entries[0] = 7
    assert sample("wirewatch_cache_entries") == 7


def test_the_tagger_counts_the_texts_it_remembers() -> None:
    tagger = Tagger.from_files()
    tagger.tag("Acme names a new chief executive", "Acme said on Monday.")
    tagger.tag("Acme names a new chief executive", "Acme said on Monday.")
    tagger.tag("Widget Works cuts jobs", "Widget Works said on Tuesday.")
    assert tagger.memo_entries == 2

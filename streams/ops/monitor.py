"""What an operator needs to know, gathered every few seconds: a Snapshot of the stream.

Workers and the web role run a Monitor: it measures consumer lag and topic sizes from Kafka,
reads feed health from Redis, samples the stage counters of every worker (summed through
Redis, wirewatch.streams.ops.counters) into a one-hour history, and keeps the latest Snapshot for
the dashboard, /readyz and `wirewatch status` (which reads it as JSON).
`problems` is pure: it judges a Snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.connectors.state import FeedState, FeedStateStore
from wirewatch.streams.ops import metrics
from wirewatch.streams.ops.activity import Activity, Circuit
from wirewatch.streams.ops.counters import (
    ClusterCounters,
    channel_counts,
    failures,
    local_totals,
    section,
    stage_counts,
)
from wirewatch.streams.ops.lag import PartitionLag, measure
from wirewatch.streams.topics import TopicNames

log = logging.getLogger(__name__)

FAILING_STREAK = 3  # consecutive failed polls before a feed counts as failing
HISTORY_SECONDS = 3600


@dataclass(frozen=True)
class FeedRow:
    feed_id: str
    name: str
    url: str
    state: str  # ok, failing, erroring (1-2 failures), new, disabled
    last_status: int | None
    last_success: float | None
    last_error: str | None
    error_streak: int
    items_published: int
    items_per_day: float
    next_poll: float


@dataclass(frozen=True)
class Problem:
    severity: str  # critical (the stream is unhealthy) or warning
    what: str


@dataclass(frozen=True)
class Verdict:
    """The stream's health in one word, and why: down (a critical problem: alerts stop
    or fall behind), degraded (warnings: some feeds, channels or records fail), healthy."""

    state: str
    reasons: list[str]


def verdict(found: list[Problem]) -> Verdict:
    if any(p.severity == "critical" for p in found):
        state = "down"
    elif found:
        state = "degraded"
    else:
        state = "healthy"
    return Verdict(state, [p.what for p in found])


@dataclass
class Snapshot:
    taken_at: float
    kafka_ok: bool
    redis_ok: bool
    errors: list[str]
    lag: list[PartitionLag]
    topic_records: dict[str, int]
    feeds: list[FeedRow]
    stages: dict[str, dict[str, float]]  # stage -> in, out, in_per_s, out_per_s
    dead_lettered: dict[str, float]  # stage -> records refused since start
    alerts: dict[str, float]  # sent, retried, dead_lettered (since start)
    articles: dict[str, float]  # new_story, duplicate (since start)
    history: list[dict[str, Any]] = field(default_factory=list)
    circuits: list[Circuit] = field(default_factory=list)  # every channel's breaker
    channels: dict[str, dict[str, float]] = field(default_factory=dict)  # sent, retried, ...

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.lag)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["lag"] = [{**asdict(p), "lag": p.lag} for p in self.lag]
        document["total_lag"] = self.total_lag
        return document


def feed_row(spec: FeedSpec, state: FeedState, now: float, *,
             disabled: bool = False) -> FeedRow:
    if disabled:
        health = "disabled"
    elif state.last_attempt is None:
        health = "new"
    elif state.error_streak >= FAILING_STREAK:
        health = "failing"
    elif state.error_streak:
        health = "erroring"
    else:
        health = "ok"
    days = max((now - state.first_poll) / 86400, 1 / 24) if state.first_poll else 1.0
    return FeedRow(spec.feed_id, spec.name or spec.url, spec.url, health, state.last_status,
                   state.last_success, state.last_error, state.error_streak,
                   state.items_published, round(state.items_published / days, 1),
                   state.next_poll)


async def feed_rows(specs: list[FeedSpec], states: FeedStateStore, registry: FeedRegistry,
                    now: float) -> list[FeedRow]:
    """Each feed's health row, disabled ones marked: two Redis round trips for them all."""
    loaded = await states.load_many([spec.feed_id for spec in specs])
    off = await registry.disabled()
    return [feed_row(spec, state, now, disabled=spec.feed_id in off)
            for spec, state in zip(specs, loaded, strict=True)]


def problems(snapshot: Snapshot | None, *, max_lag: int, dlq_records: str) -> list[Problem]:
    """What is wrong, most serious first. `dlq_records` names the dead-letter topic."""
    if snapshot is None:
        return [Problem("critical", "no snapshot yet: the worker is starting or not running")]
    found = []
    if not snapshot.kafka_ok:
        found.append(Problem("critical", "Kafka unreachable: " + "; ".join(snapshot.errors)))
    if not snapshot.redis_ok:
        found.append(Problem("critical", "Redis unreachable: " + "; ".join(snapshot.errors)))
    if snapshot.total_lag > max_lag:
        found.append(Problem("critical", f"consumer lag {snapshot.total_lag:,} records "
                                         f"(limit {max_lag:,})"))
    failing = [f for f in snapshot.feeds if f.state == "failing"]
    if failing:
        names = ", ".join(f.name for f in failing[:5]) + (" ..." if len(failing) > 5 else "")
        found.append(Problem("warning", f"{len(failing)} feed(s) failing: {names}"))
    dead = snapshot.topic_records.get(dlq_records, 0)
    if dead:
        found.append(Problem("warning", f"{dead:,} record(s) in the dead-letter topic"))
    for circuit in snapshot.circuits:
        if circuit.state != "closed":
            found.append(Problem("warning", f"channel {circuit.channel} paused (circuit "
                                            f"{circuit.state} after {circuit.failures} failures "
                                            f"in a row): {circuit.last_error}"))
    if snapshot.alerts.get("dead_lettered"):
        found.append(Problem("warning", f"{snapshot.alerts['dead_lettered']:.0f} alert "
                                        "deliveries failed for good since start"))
    return found


class Monitor:
    """Refreshes the Snapshot every `interval` seconds until cancelled."""

    def __init__(self, *, bootstrap: str, group: str, consumed: list[str], sized: list[str],
                 dlq_topic: str, redis_client: aioredis.Redis, redis_prefix: str,
                 feeds: Callable[[], list[FeedSpec]], interval: float = 10.0,
                 instance: str | None = None) -> None:
        self.bootstrap, self.group = bootstrap, group
        self.consumed, self.sized, self.dlq_topic = consumed, sized, dlq_topic
        self.redis = redis_client
        self.feed_states = FeedStateStore(redis_client, prefix=redis_prefix)
        self.registry = FeedRegistry(redis_client, prefix=redis_prefix)
        self.activity = Activity(redis_client, prefix=redis_prefix)
        self.feeds = feeds
        self.interval = interval
        self.latest: Snapshot | None = None
        # A worker publishes its counters as `instance`; every monitor shows the cluster's sum.
        self.counters = ClusterCounters(redis_client, prefix=redis_prefix, instance=instance,
                                        ttl_seconds=3 * interval)
        # (when, stage counts, total lag, failures since start), one per interval
        self._samples: deque[tuple[float, dict[str, dict[str, float]], int, float]] = deque(
            maxlen=int(HISTORY_SECONDS / interval) + 1)

    @classmethod
    def of_pipeline(cls, *, bootstrap: str, group: str, topics: TopicNames,
                    redis_client: aioredis.Redis, redis_prefix: str,
                    feeds: Callable[[], list[FeedSpec]], interval: float,
                    instance: str | None = None) -> Monitor:
        """The monitor of a pipeline's topics: lag of `group` on the raw topic, the size of
        every topic, and the DLQ."""
        return cls(bootstrap=bootstrap, group=group, consumed=[topics.raw],
                   sized=list(topics.all()), dlq_topic=topics.dlq, redis_client=redis_client,
                   redis_prefix=redis_prefix, feeds=feeds, interval=interval,
                   instance=instance)

    async def run(self) -> None:
        task = asyncio.current_task()
        while True:
            try:
                self.latest = await self.take()
            except Exception:  # noqa: BLE001 - the monitor must outlive any one bad check
                log.exception("health snapshot failed")
            # aiokafka swallows a cancellation that lands while measure() closes its
            # clients (AIOKafkaClient.close and Fetcher.close await their own cancelled
            # task under suppress(CancelledError)): take() then returns normally and this
            # loop would go on for ever. Faust cancels app tasks once at stop and waits
            # for them without a deadline, so a SIGTERM'd worker hung until it was
            # killed. The request is still counted on the task (Task.cancelling), so
            # honour it here.
            if task is not None and task.cancelling():
                log.warning("health monitor stopping: a cancellation was swallowed")
                raise asyncio.CancelledError
            await asyncio.sleep(self.interval)

    async def take(self) -> Snapshot:
        now = time.time()
        errors: list[str] = []
        lag: list[PartitionLag] = []
        sizes: dict[str, int] = {}
        kafka_ok = redis_ok = True
        try:
            lag, sizes = await measure(self.bootstrap, self.group, self.consumed, self.sized)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            kafka_ok = False
            errors.append(f"Kafka: {type(exc).__name__}: {exc}")
        feeds: list[FeedRow] = []
        try:
            feeds = await feed_rows(self.feeds(), self.feed_states, self.registry, now)
        except Exception as exc:  # noqa: BLE001
            redis_ok = False
            errors.append(f"Redis: {type(exc).__name__}: {exc}")
        circuits: list[Circuit] = []
        try:
            circuits = await self.activity.circuits()
        except Exception as exc:  # noqa: BLE001
            redis_ok = False
            errors.append(f"Redis circuits: {type(exc).__name__}: {exc}")
        totals = local_totals()
        try:
            await self.counters.publish(totals)
            totals = await self.counters.sum() or totals
        except Exception as exc:  # noqa: BLE001 - this process's own counts, then
            redis_ok = False
            errors.append(f"Redis counters: {type(exc).__name__}: {exc}")
        counts = stage_counts(totals)
        self._samples.append((now, counts, sum(p.lag for p in lag), failures(totals)))
        snapshot = Snapshot(
            taken_at=now, kafka_ok=kafka_ok, redis_ok=redis_ok, errors=errors, lag=lag,
            topic_records=sizes, feeds=feeds, stages=self._rates(counts),
            dead_lettered=section(totals, "dead_lettered"), alerts=section(totals, "alerts"),
            articles=section(totals, "articles"),
            history=self.history(), circuits=circuits, channels=channel_counts(totals))
        self._export(snapshot)
        return snapshot

    def _rates(self, counts: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        """Totals and per-second rates over the last interval, per stage."""
        previous = self._samples[-2] if len(self._samples) > 1 else None
        rates = {}
        for stage, directions in counts.items():
            row = {"in": directions.get("in", 0.0), "out": directions.get("out", 0.0),
                   "in_per_s": 0.0, "out_per_s": 0.0}
            if previous is not None:
                elapsed = max(self._samples[-1][0] - previous[0], 1e-9)
                before = previous[1].get(stage, {})
                for direction in ("in", "out"):
                    row[f"{direction}_per_s"] = round(max(
                        row[direction] - before.get(direction, 0.0), 0.0) / elapsed, 2)
            rates[stage] = row
        return rates

    def history(self) -> list[dict[str, Any]]:
        """Per interval over the last hour, oldest first: each stage's input rate
        (records/s), the total consumer lag (records) and failures per minute."""
        points = []
        samples = list(self._samples)
        for (t0, c0, _, f0), (t1, c1, lag, f1) in zip(samples, samples[1:], strict=False):
            elapsed = max(t1 - t0, 1e-9)
            points.append({"at": t1, "rates": {
                stage: round(max(d.get("in", 0.0) - c0.get(stage, {}).get("in", 0.0), 0.0)
                             / elapsed, 2)
                for stage, d in c1.items()}, "lag": lag,
                "failures_per_min": round(max(f1 - f0, 0.0) * 60 / elapsed, 2)})
        return points

    def _export(self, snapshot: Snapshot) -> None:
        metrics.ASYNCIO_TASKS.set(len(asyncio.all_tasks()))
        metrics.UP.labels("kafka").set(1 if snapshot.kafka_ok else 0)
        metrics.UP.labels("redis").set(1 if snapshot.redis_ok else 0)
        for p in snapshot.lag:
            metrics.CONSUMER_LAG.labels(p.topic, str(p.partition)).set(p.lag)
        for topic, records in snapshot.topic_records.items():
            metrics.TOPIC_RECORDS.labels(topic).set(records)
        if self.dlq_topic in snapshot.topic_records:
            metrics.DLQ_RECORDS.set(snapshot.topic_records[self.dlq_topic])
        if snapshot.redis_ok:
            for state in ("ok", "erroring", "failing", "new", "disabled"):
                metrics.FEEDS.labels(state).set(sum(f.state == state for f in snapshot.feeds))

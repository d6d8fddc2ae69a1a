"""The pipeline's counters summed over every process, through Redis, for the dashboard.

Each process counts its own work in Prometheus counters; Prometheus sums them over a
cluster, but the dashboard (served by `wirewatch web`, which processes nothing) must too.
So each worker's monitor writes its totals to a Redis hash of its own that expires unless
renewed, and every monitor reads the sum over the hashes still there. A worker that stops
drops out of the sum after the expiry; rates are clamped at zero across such steps.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from prometheus_client import Counter
from wirewatch.alerts import metrics as alert_metrics
from wirewatch.connectors import metrics as feed_metrics
from wirewatch.streams.ops import metrics

Totals = dict[str, float]  # "kind|label[|label]" -> value
_SEPARATOR = "|"


def _counter_totals(counter: Counter, kind: str, *labels: str) -> Totals:
    totals: Totals = {}
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = _SEPARATOR.join([kind, *(sample.labels.get(name, "") for name in labels)])
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def local_totals() -> Totals:
    """This process's counters, flattened."""
    totals = _counter_totals(metrics.STAGE_ITEMS, "stage", "stage", "direction")
    totals |= _counter_totals(metrics.DEAD_LETTERS, "dead_lettered", "stage")
    totals |= _counter_totals(metrics.ARTICLES, "articles", "kind")
    for name, counter in (("sent", alert_metrics.SENT), ("retried", alert_metrics.RETRIED),
                          ("dead_lettered", alert_metrics.DEAD_LETTERED)):
        per_channel = _counter_totals(counter, "channel", "channel")
        totals[f"alerts{_SEPARATOR}{name}"] = sum(per_channel.values())
        totals |= {f"{key}{_SEPARATOR}{name}": value for key, value in per_channel.items()}
    # The deliver step only queues alerts (channel workers send them): what comes out of
    # the stage, as an operator reads it, is alerts delivered.
    stage_in, stage_out = (_SEPARATOR.join(("stage", "deliver", d)) for d in ("in", "out"))
    if stage_in in totals or totals[f"alerts{_SEPARATOR}sent"]:
        totals[stage_out] = totals[f"alerts{_SEPARATOR}sent"]
    totals[f"feeds{_SEPARATOR}errors"] = sum(
        _counter_totals(feed_metrics.ERRORS, "feeds", "error_class").values())
    return totals


def section(totals: Totals, kind: str) -> dict[str, float]:
    """One kind's values by its label: section(t, "articles") -> {"duplicate": 3.0, ...}."""
    prefix = kind + _SEPARATOR
    return {key[len(prefix):]: value for key, value in totals.items() if key.startswith(prefix)}


def channel_counts(totals: Totals) -> dict[str, dict[str, float]]:
    """{channel: {"sent": n, "retried": n, "dead_lettered": n}} from the flattened totals."""
    counts: dict[str, dict[str, float]] = {}
    for key, value in section(totals, "channel").items():
        channel, _, outcome = key.rpartition(_SEPARATOR)
        counts.setdefault(channel, {"sent": 0.0, "retried": 0.0, "dead_lettered": 0.0})[
            outcome] = value
    return counts


def failures(totals: Totals) -> float:
    """Everything that went wrong since start, summed: records dead-lettered by a stage,
    alert attempts retried or given up, failed feed polls (the dashboard's failure chart)."""
    return (sum(section(totals, "dead_lettered").values())
            + totals.get(f"alerts{_SEPARATOR}retried", 0.0)
            + totals.get(f"alerts{_SEPARATOR}dead_lettered", 0.0)
            + totals.get(f"feeds{_SEPARATOR}errors", 0.0))


def stage_counts(totals: Totals) -> dict[str, dict[str, float]]:
    """{stage: {"in": n, "out": n}} from the flattened totals."""
    counts: dict[str, dict[str, float]] = {}
    for key, value in section(totals, "stage").items():
        stage, _, direction = key.partition(_SEPARATOR)
        counts.setdefault(stage, {})[direction] = value
    return counts


class ClusterCounters:
    """Publishes this process's totals (when it has an instance name) and sums everyone's."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, instance: str | None,
                 ttl_seconds: float) -> None:
        self.client = client
        self.pattern = f"{prefix}counters:*"
        self.key = f"{prefix}counters:{instance}" if instance else None
        self.ttl_ms = max(int(ttl_seconds * 1000), 1000)

    async def publish(self, totals: Totals) -> None:
        if self.key is None or not totals:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, mapping={k: repr(v) for k, v in totals.items()})
            pipe.pexpire(self.key, self.ttl_ms)
            await pipe.execute()

    async def sum(self) -> Totals:
        keys = [key async for key in self.client.scan_iter(match=self.pattern, count=100)]
        if not keys:
            return {}
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            hashes = await pipe.execute()
        totals: Totals = {}
        for values in hashes:
            for field, value in values.items():
                name = field.decode()
                totals[name] = totals.get(name, 0.0) + float(value)
        return totals

"""Soak: one `wirewatch run` worker under a steady load for 10 minutes; is it flat?

The load is twice the steady rate of bench/alert_latency.py (100 items/s, a busy news day
for one worker), so 200 bench/corpus.py items a second: well under a worker's capacity
(~580/s, bench/pipeline.py), which is the point: a soak asks whether a worker that keeps
up stays healthy, not how fast it goes. Every 10 s it samples the worker's resident memory,
the tasks on its event loop (wirewatch_asyncio_tasks), the group's lag and what was
committed, and the fill level of its bounded caches (wirewatch_cache_entries). Prints JSON:
the samples; memory growth after the first two minutes and its slope (MB/min) over the
last third; when every cache was full and the slope from then on (memory that grows while
a cache fills is the cache, not a leak); the largest lag, the task count's range, and the
rate achieved.

`--kafka HOST:PORT` runs it on Apache Kafka (`bash deploy/kafka/kafka.sh start`) instead of
the embedded broker. The embedded broker keeps every record in memory with no retention:
a soak longer than about 15 minutes at 200 items/s measures it, not the worker (README,
"Reliability").
Usage: python bench/soak.py [--minutes 10] [--rate 200] [--kafka HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import raw_items  # noqa: E402
from harness import start_webhook_sink  # noqa: E402
from pipeline import PARTITIONS, start, worker_env  # noqa: E402
from wirewatch.connectors.records import encode_raw_item  # noqa: E402
from wirewatch.streams.embedded import embedded_services, free_port  # noqa: E402
from wirewatch.streams.ops.lag import measure  # noqa: E402
from wirewatch.streams.topics import TopicNames, ensure_topics  # noqa: E402

SAMPLE_SECONDS = 10.0
WARM_UP_SECONDS = 120.0
# The worker's bounded caches (wirewatch_cache_entries): the boilerplate model fills last,
# in about 20 minutes at 200 items/s.
CACHES = ("boilerplate_lines", "sketches", "tags")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def gauge(port: int, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            for line in reply.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


async def produce(bootstrap: str, topic: str, rate: float, seconds: float) -> int:
    """Items at `rate` a second for `seconds`, a tenth of a second's worth at a time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    items = raw_items(int(rate * seconds) + 1, seed=17)
    step, sent, started = max(int(rate / 10), 1), 0, time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            batch = [next(items) for _ in range(step)]
            await asyncio.gather(*[await producer.send(
                topic, key=i.item_id.encode(), value=encode_raw_item(i)) for i in batch])
            sent += len(batch)
            delay = started + sent / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the load
    finally:
        await producer.stop()
    return sent


def slope(samples: list[dict[str, float | int | None]]) -> float | None:
    """Least-squares slope of resident memory over time, MB per minute."""
    points = [(float(s["at_s"] or 0) / 60, float(s["rss_mb"] or 0)) for s in samples]
    if len(points) < 3:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_m = sum(m for _, m in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if not spread:
        return None
    return round(sum((t - mean_t) * (m - mean_m) for t, m in points) / spread, 3)


async def soak(minutes: float, rate: float, scratch: Path,
               kafka: str | None = None) -> dict[str, object]:
    alerts = [0]
    runner, sink_port = await start_webhook_sink(lambda body: alerts.__setitem__(0, alerts[0] + 1))
    samples: list[dict[str, float | int | None]] = []
    gauge_at_end: dict[str, float | None] = {}
    try:
        with embedded_services(kafka, None, scratch / "services") as ends:
            port = free_port()
            prefix = f"soak{int(time.time())}."  # a running Kafka keeps earlier soaks' topics
            env = {**worker_env(scratch, sink_port, ends), "WIREWATCH_TOPIC_PREFIX": prefix,
                   "WIREWATCH_APP_ID": prefix, "WIREWATCH_REDIS_PREFIX": "soak:",
                   "WIREWATCH_MONITOR_SECONDS": "5", "WIREWATCH_WEB_PORT": str(port),
                   "WIREWATCH_KAFKA_IDEMPOTENCE": "true" if kafka else "false"}
            names = TopicNames.with_prefix(prefix)
            await ensure_topics(ends.kafka_bootstrap, names, partitions=PARTITIONS,
                                replication=1)
            worker = start("pipeline", 0, env, names, "soak", scratch)
            try:
                seconds = minutes * 60
                load = asyncio.create_task(produce(ends.kafka_bootstrap, names.raw, rate,
                                                   seconds))
                started = time.monotonic()
                while not load.done():
                    await asyncio.wait({load}, timeout=SAMPLE_SECONDS)
                    lags, _ = await measure(ends.kafka_bootstrap, prefix, [names.raw], [])
                    samples.append({
                        "at_s": round(time.monotonic() - started),
                        "rss_mb": rss_mb(worker.pid),
                        "tasks": gauge(port, "wirewatch_asyncio_tasks"),
                        **{f"cache_{name}": gauge(
                            port, f'wirewatch_cache_entries{{cache="{name}"}}')
                           for name in CACHES},
                        "lag": sum(p.lag for p in lags),
                        "committed": sum(p.committed or 0 for p in lags),
                        "alerts": alerts[0]})
                    print(json.dumps(samples[-1]), file=sys.stderr)
                produced = load.result()
                gauge_at_end.update({name: gauge(
                    port, f'wirewatch_cache_capacity{{cache="{name}"}}') for name in CACHES})
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
    finally:
        await runner.cleanup()
    warm = [s for s in samples if float(s["at_s"] or 0) >= WARM_UP_SECONDS] or samples
    first, last = float(warm[0]["rss_mb"] or 0), float(warm[-1]["rss_mb"] or 0)
    tasks = [int(s["tasks"]) for s in warm if s["tasks"] is not None]
    # A bounded cache still filling grows memory by design: the slope that says "flat" is
    # the one after every cache is full; until then the fill levels say where it will stop.
    capacity = {name: gauge_at_end[name] for name in CACHES}
    full_from = next((s for s in samples if all(
        s[f"cache_{name}"] is not None and capacity[name]
        and float(s[f"cache_{name}"] or 0) >= 0.98 * capacity[name] for name in CACHES)), None)
    last_third = warm[len(warm) * 2 // 3:]
    return {
        "broker": f"Apache Kafka at {kafka}" if kafka else "embedded (Tansu)",
        "minutes": minutes, "rate_per_s": rate, "produced": produced,
        "committed_per_s": round(float(samples[-1]["committed"] or 0) / (minutes * 60), 1),
        "rss_mb_after_warm_up": first, "rss_mb_at_end": last,
        "rss_growth_after_warm_up_pct": round((last - first) / first * 100, 1) if first else None,
        "lag_max": max(int(s["lag"] or 0) for s in samples),
        "lag_at_end": samples[-1]["lag"],
        "rss_slope_mb_per_min_last_third": slope(last_third),
        "caches_at_end": {name: {"entries": samples[-1][f"cache_{name}"],
                                 "capacity": capacity[name]} for name in CACHES},
        "caches_full_from_s": full_from["at_s"] if full_from else None,
        "rss_slope_mb_per_min_once_full": slope(
            [s for s in samples if full_from and s["at_s"] >= full_from["at_s"]]),
        "tasks_after_warm_up": [min(tasks), max(tasks)] if tasks else None,
        "alerts_delivered": alerts[0], "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--kafka", default=None, help="bootstrap of a running Kafka (e.g. "
                        "`bash deploy/kafka/kafka.sh start`) instead of the embedded broker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wirewatch-soak-") as scratch:
        result = asyncio.run(soak(args.minutes, args.rate, Path(scratch), args.kafka))
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

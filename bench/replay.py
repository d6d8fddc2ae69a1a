"""Dry-run replay throughput against a plain aiokafka consumer on the same topic.

Starts the embedded broker and Redis, writes N raw items (bench/corpus.py: 2-4 KB wire
stories, 1-4 outlets each, over one day) to a 4-partition raw topic, then times, in the
same run: (1) the baseline, an aiokafka consumer reading every record and doing nothing
else; (2) `run_replay` over the whole day, dry run, with the shipped tagger and 50
subscriptions. Prints JSON with records/s of both and their ratio.
Usage: python bench/replay.py [--items 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import COMPANIES, raw_items  # noqa: E402
from harness import produce_items  # noqa: E402
from wirewatch.alerts.store import SubscriptionStore  # noqa: E402
from wirewatch.alerts.subscriptions import Subscription  # noqa: E402
from wirewatch.streams.embedded import embedded_services  # noqa: E402
from wirewatch.streams.eventloop import install  # noqa: E402
from wirewatch.streams.replay.engine import run_id  # noqa: E402
from wirewatch.streams.replay.run import ReplayPlan, Services, run_replay  # noqa: E402
from wirewatch.streams.settings import Settings  # noqa: E402
from wirewatch.streams.topics import TopicNames, ensure_topics  # noqa: E402

TOPICS = ["earnings", "leadership-change", "mergers-acquisitions", "layoffs", "ai-safety"]


def subscriptions() -> list[Subscription]:
    """50 subscriptions: every (company, topic) pair for ten companies and five topics."""
    return [Subscription.create(name=f"{company} {topic}", owner="bench",
                                query=f"entity:{company.lower()} AND topic:{topic}")
            for company in COMPANIES[:10] for topic in TOPICS]


async def plain_read(bootstrap: str, topic: str, partitions: int, count: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=100, max_poll_records=2000)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen, started = 0, time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(*tps, timeout_ms=1000, max_records=2000)
            seen += sum(len(messages) for messages in batches.values())
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def bench(count: int, scratch: Path) -> dict[str, object]:
    settings = Settings()
    with embedded_services(None, None, scratch, need_kafka=True) as ends:
        names = TopicNames.with_prefix("bench.")
        await ensure_topics(ends.kafka_bootstrap, names, partitions=4, replication=1)
        started = time.perf_counter()
        await produce_items(ends.kafka_bootstrap, names.raw,
                            raw_items(count, span=timedelta(hours=24)), stamped=True)
        produce_seconds = time.perf_counter() - started
        client = aioredis.Redis.from_url(ends.redis_url)
        store = SubscriptionStore(client, prefix="bench:")
        for subscription in subscriptions():
            await store.save(subscription)
        await client.aclose()
        baseline = await plain_read(ends.kafka_bootstrap, names.raw, 4, count)
        plan = ReplayPlan(run_id=run_id(), start="2026-10-31T00:00:00+00:00",
                          topic=names.raw)
        services = Services(kafka_bootstrap=ends.kafka_bootstrap, redis_url=ends.redis_url,
                            redis_prefix="bench:", tagger=settings.tagger_source(),
                            dedupe_window_seconds=7 * 86400, ledger_days=30,
                            out_dir=scratch / "replay")
        shown = [0.0]

        def progress(done: int, total: int | None) -> None:
            if time.monotonic() - shown[0] > 5:
                shown[0] = time.monotonic()
                print(f"replay: {done:,}/{total or 0:,}", file=sys.stderr)

        started = time.perf_counter()
        report = await run_replay(plan, services, stop=asyncio.Event(), progress=progress)
        seconds = time.perf_counter() - started
        replay_rate = report.counts["records"] / seconds
        return {
            "items": count, "partitions": 4, "broker": "embedded (Tansu)",
            "produce_per_s": round(count / produce_seconds),
            "baseline_plain_consumer_per_s": round(baseline),
            "replay_dry_run_per_s": round(replay_rate),
            "ratio_replay_to_plain_consumer": round(replay_rate / baseline, 3),
            "replay_seconds": round(seconds, 1),
            "articles": report.counts["articles"], "stories": report.counts["new_stories"],
            "alerts": report.counts["alerts"], "subscriptions": len(report.subscriptions),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    loop = install()  # the loop `wirewatch replay` runs on (WIREWATCH_EVENT_LOOP, default uvloop)
    with tempfile.TemporaryDirectory(prefix="wirewatch-bench-replay-") as scratch:
        result = {"event_loop": loop, **asyncio.run(bench(args.items, Path(scratch)))}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

"""End-to-end alert latency: a raw item entering news.raw.v1 to the notifier's HTTP call.

Starts `wirewatch run` on the embedded broker and Redis (group wait 0, immediate
subscriptions) with a signed-webhook channel pointing at a loopback HTTP sink, produces
distinct stories that all match one subscription at a steady rate, and times each alert
from the moment its raw item was produced to the moment the sink received it. Prints JSON:
p50/p95/p99/max in milliseconds, the rate asked for and the rate achieved.
Usage: python bench/alert_latency.py [--rate 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import start_webhook_sink, write_sink_channel  # noqa: E402
from wirewatch.connectors.records import RawItem, encode_raw_item  # noqa: E402
from wirewatch.streams.embedded import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("market shares investors region growth demand cloud services software devices "
         "gaming license contract partner office data center chips energy supply costs "
         "margin forecast guidance customers revenue segment division europe asia americas "
         "retail enterprise security search advertising hardware subscription").split()


def body(number: int) -> str:
    """About 2 KB of text no other item shares: every item is a story of its own."""
    draw = random.Random(number)
    sentences = [" ".join(draw.choices(WORDS, k=14)).capitalize() + f" {number}."
                 for _ in range(14)]
    return " ".join([sentences[0], "Microsoft reported quarterly net income and earnings per "
                     "share above estimates.", *sentences[1:]])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0, help="raw items per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to produce")
    parser.add_argument("--trace", action="store_true",
                        help="also time each topic (an extra consumer: adds load)")
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    received: dict[str, float] = {}
    done = asyncio.Event()

    def on_alert(body: bytes) -> None:
        received.setdefault(json.loads(body)["article_id"], time.time())
        if len(received) > count:  # the warm-up item is one more
            done.set()

    runner, sink_port = await start_webhook_sink(on_alert)
    scratch = Path(tempfile.mkdtemp(prefix="ww-bench-latency-"))
    write_sink_channel(scratch / "channels.yaml", sink_port)
    (scratch / "subscriptions.yaml").write_text(
        "subscriptions:\n  - {name: Microsoft earnings, query: 'entity:microsoft AND "
        "topic:earnings', channels: [sink], update_after_outlets: null}\n", encoding="utf-8")
    env = {**os.environ, "WIREWATCH_DATA_DIR": str(scratch / "data"),
           "WIREWATCH_CHANNELS_FILE": str(scratch / "channels.yaml"),
           "WIREWATCH_SUBSCRIPTIONS_FILE": str(scratch / "subscriptions.yaml"),
           "WIREWATCH_WEB_PORT": str(free_port()), "WIREWATCH_LOG_LEVEL": "ERROR"}
    log = (scratch / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "wirewatch", "run"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    bootstrap = ""
    assert worker.stderr is not None
    for line in worker.stderr:
        log.write(line)
        found = re.search(r"Kafka (\S+) ", line)
        if found:
            bootstrap = found.group(1)
            break
    forward = asyncio.create_task(asyncio.to_thread(
        lambda: [log.write(line) for line in worker.stderr]))  # type: ignore[union-attr]
    sent_at: dict[str, float] = {}
    seen: dict[str, dict[str, float]] = {topic: {} for topic in HOPS}
    tracer = asyncio.create_task(trace(bootstrap, seen) if args.trace else asyncio.sleep(0))
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        await producer.start()
        # A first item warms every stage (agents assigned, Redis scripts loaded).
        await producer.send_and_wait("news.raw.v1", key=b"warm", value=encode_raw_item(
            item(-1)))
        async with asyncio.timeout(120):
            while "bench--1" not in received:
                await asyncio.sleep(0.1)
        started = time.time()
        for number in range(count):
            target = started + number / args.rate
            delay = target - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            raw = item(number)
            sent_at[raw.item_id] = time.time()
            await producer.send("news.raw.v1", key=raw.feed_id.encode(),
                                value=encode_raw_item(raw))
        await producer.flush()
        produced_in = time.time() - started
        # Wait for every alert, or until none has arrived for 5 s (the dedupe engine may
        # fold a synthetic story into another, and that one never alerts).
        last = (len(received), time.time())
        while not done.is_set() and time.time() - last[1] < 5:
            await asyncio.sleep(0.1)
            if len(received) != last[0]:
                last = (len(received), time.time())
        await producer.stop()
    finally:
        tracer.cancel()
        worker.terminate()
        worker.wait(timeout=60)
        await forward
        log.close()
        await runner.cleanup()
    latencies = [(received[i] - sent_at[i]) * 1000 for i in sent_at if i in received]
    print(json.dumps({
        "items": count, "alerts_received": len(latencies), "rate_asked_per_s": args.rate,
        "rate_produced_per_s": round(count / produced_in, 1),
        "latency_ms": {"p50": round(percentile(latencies, 0.50), 1),
                       "p95": round(percentile(latencies, 0.95), 1),
                       "p99": round(percentile(latencies, 0.99), 1),
                       "max": round(max(latencies), 1)} if latencies else None,
        "median_ms_to_reach_each_topic": {
            topic: round(percentile([(seen[topic][i] - sent_at[i]) * 1000
                                     for i in sent_at if i in seen[topic]], 0.5), 1)
            for topic in HOPS if any(i in seen[topic] for i in sent_at)},
        "worker_log": str(scratch / "worker.log")}, indent=2))


HOPS = ("news.raw.v1", "news.articles.v1", "news.tagged.v1", "news.alerts.v1")


async def trace(bootstrap: str, seen: dict[str, dict[str, float]]) -> None:
    """When each item reaches each topic (read by an independent consumer)."""
    consumer = AIOKafkaConsumer(*HOPS, bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                group_id=None, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for partition, records in batches.items():
                for record in records:
                    document = json.loads(record.value or b"{}")
                    found = (document.get("item_id") or document.get("article_id")
                             or document.get("article", {}).get("article_id"))
                    if found:
                        seen[partition.topic].setdefault(found, now)
    finally:
        await consumer.stop()


def item(number: int) -> RawItem:
    return RawItem(item_id=f"bench-{number}", feed_id=f"feed-{number % 8}",
                   feed_url=f"https://bench{number % 8}.example/rss",
                   source=f"Bench {number % 8}", url=f"https://bench.example/{number}",
                   title=f"Microsoft quarterly profit rises, story {number}",
                   summary=body(number), fetched_at=datetime.now(UTC))


if __name__ == "__main__":
    asyncio.run(main())

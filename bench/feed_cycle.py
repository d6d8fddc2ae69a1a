"""Benchmark one full connector cycle over many feeds served from a local HTTP server.

90 % of the feeds answer 304 to the validators a previous cycle left in Redis; 10 % return
a fresh 100 KB, 50-item RSS feed. Prints JSON: feeds/s for the cycle, CPU seconds (this
process and its parser workers), peak RSS, and parse time per 100 KB feed for wirewatch's
parse_feed against plain feedparser measured in the same run.
Usage: python bench/feed_cycle.py [--feeds 10000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import feedparser
import redis.asyncio as aioredis
from aiohttp import web
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.fetch import new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.parse import parse_feed
from wirewatch.connectors.parse_pool import ParserPool
from wirewatch.connectors.poller import FeedPoller
from wirewatch.connectors.publish import RawItemPublisher, new_producer
from wirewatch.connectors.state import FeedState, FeedStateStore
from wirewatch.streams.embedded import free_port, start_redis, start_tansu
from wirewatch.streams.topics import TopicNames, ensure_topics

PARAGRAPH = ("<p>Shares of <b>Example Corp</b> rose after the company reported quarterly "
             "results that beat estimates, <a href='https://example.com/x'>according to "
             "filings</a>. Analysts said demand for its cloud services stayed strong.</p>")


def fresh_feed(index: int) -> bytes:
    """About 100 KB of RSS with 50 items whose GUIDs are unique to this feed."""
    items = []
    for item in range(50):
        body = PARAGRAPH * 5
        items.append(
            f"<item><title>Story {item} of feed {index}</title>"
            f"<link>https://feed{index}.example/story/{item}</link>"
            f"<guid>feed{index}-story{item}</guid>"
            f"<pubDate>Fri, 27 Nov 2026 {item % 24:02d}:00:00 GMT</pubDate>"
            f"<description><![CDATA[{body}]]></description>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded></item>")
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:content='
            '"http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Feed {index}</title>{''.join(items)}</channel></rss>").encode()


def serve(port: int, ready: multiprocessing.synchronize.Event) -> None:  # pragma: no cover
    cache: dict[int, bytes] = {}

    async def feed(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        if index % 10 and request.headers.get("If-None-Match") == f'"f{index}"':
            return web.Response(status=304)
        if index not in cache:
            cache[index] = fresh_feed(index)
        return web.Response(body=cache[index], content_type="application/rss+xml",
                            headers={"ETag": f'"f{index}-2"'})

    app = web.Application()
    app.router.add_get("/feed/{index}", feed)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of running processes (forkserver workers are not our children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def parse_times(runs: int = 30) -> dict[str, float]:
    body = fresh_feed(1)
    timings: dict[str, list[float]] = {"feedparser": [], "wirewatch": []}
    for _ in range(3):
        feedparser.parse(body)
        parse_feed(body)
    for _ in range(runs):
        started = time.perf_counter()
        feedparser.parse(body)
        timings["feedparser"].append(time.perf_counter() - started)
        started = time.perf_counter()
        parse_feed(body, "application/rss+xml")
        timings["wirewatch"].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}


async def cycle(feeds: int, concurrency: int, parser_workers: int) -> dict[str, object]:
    scratch = Path(tempfile.mkdtemp(prefix="ww-bench-"))
    redis_child, redis_url = start_redis(scratch, scratch / "logs")
    kafka_child, bootstrap = start_tansu(scratch / "logs")
    port = free_port()
    ready = multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port, ready),
                                                          daemon=True)
    server.start()
    ready.wait(30)
    client = aioredis.Redis.from_url(redis_url)
    topics = TopicNames.with_prefix("bench.")
    await ensure_topics(bootstrap, topics, partitions=4, replication=1)
    producer = new_producer(bootstrap, idempotent=False, client_id="bench")
    await producer.start()
    policy = AddressPolicy(["127.0.0.0/8"])
    session = new_session(policy, per_host_limit=concurrency)
    parser = ParserPool(workers=parser_workers, timeout=30)
    try:
        specs = [FeedSpec(url=f"http://127.0.0.1:{port}/feed/{i}") for i in range(feeds)]
        store = FeedStateStore(client, "bench:")
        for start in range(0, feeds, 1000):  # the validators a previous cycle left behind
            async with client.pipeline(transaction=False) as pipe:
                for i, spec in enumerate(specs[start:start + 1000], start):
                    if i % 10:
                        pipe.set(store._state_key(spec.feed_id), json.dumps(
                            {**FeedState().__dict__, "etag": f'"f{i}"'}))
                await pipe.execute()
        poller = FeedPoller(specs, session=session, store=store, policy=policy,
                            publisher=RawItemPublisher(producer, topics.raw),
                            concurrency=concurrency, parse=parser.parse)
        # Start every parser lane outside the measurement: as many parses at once as lanes.
        await asyncio.gather(*(parser.parse(fresh_feed(0)) for _ in range(parser_workers)))
        workers = [pid for lane in parser._lanes if lane is not None  # noqa: SLF001
                   for pid in lane._processes]  # noqa: SLF001 - measurement only
        before = resource.getrusage(resource.RUSAGE_SELF)
        before_workers = process_cpu_seconds(workers)
        started = time.perf_counter()
        outcomes = await poller.poll_due()
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        workers_cpu = process_cpu_seconds(workers) - before_workers
    finally:
        parser.close()
        await session.close()
        await producer.stop()
        await client.aclose()
        server.kill()
        kafka_child.stop()
        redis_child.stop()
    statuses: dict[str, int] = {}
    for outcome in outcomes:
        statuses[str(outcome.status)] = statuses.get(str(outcome.status), 0) + 1
    cpu_self = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "feeds": feeds, "concurrency": concurrency, "parser_workers": parser_workers,
        "cycle_seconds": round(elapsed, 2), "feeds_per_s": round(feeds / elapsed, 1),
        "items_published": sum(o.published for o in outcomes), "statuses": statuses,
        "errors": sum(1 for o in outcomes if o.error),
        "cpu_seconds_connector": round(cpu_self, 2),
        "cpu_seconds_parser_workers": round(workers_cpu, 2),
        "peak_rss_mb_connector": round(after.ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--parser-workers", type=int, default=2)
    args = parser.parse_args()
    result = asyncio.run(cycle(args.feeds, args.concurrency, args.parser_workers))
    parse_ms = parse_times()
    result["parse_ms_per_100kb_feed"] = {k: round(v, 2) for k, v in parse_ms.items()}
    result["parse_ratio_wirewatch_to_feedparser"] = round(
        parse_ms["wirewatch"] / parse_ms["feedparser"], 3)
    result["target_feeds_per_s"] = 330
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

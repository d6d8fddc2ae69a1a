"""Scale-out on one machine: three `wirewatch worker`s, two `wirewatch connect`s, one web.

Topics have 6 partitions. The test checks that the partitions spread over the workers, that
the feeds split over the connectors with no feed polled twice, that a worker killed with
SIGKILL has its partitions taken over, and that no item is lost across all of it (every raw
item id reaches news.articles.v1). It runs on the embedded broker in the suite and on
Apache Kafka in the CI tier.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.registry import FeedRegistry
from wirewatch.streams.embedded import free_port

from tests.support.processes import wait_for, wirewatch_env
from tests.support.roles import Role, article_ids, raw_ids, serve_feeds

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow, pytest.mark.apache_kafka]

PARTITIONS = 6
ITEMS_PER_FEED = 4


def feed_body(name: str) -> bytes:
    items = "".join(
        f"<item><title>{name} story {n}: plant {n} output rises</title>"
        f"<link>https://{name}.example/{n}</link><guid>{name}-{n}</guid>"
        f"<description>Output at {name} plant number {n} rose by {n * 7} percent in the "
        f"quarter, the operator of site {name}-{n} said.</description></item>"
        for n in range(ITEMS_PER_FEED))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
            f"{items}</channel></rss>").encode()


@contextmanager
def feed_server(requests: Counter[str]) -> Iterator[str]:
    """Serves /<name>.xml for any name, counting the requests per path."""
    lock = threading.Lock()

    def body_of(name: str) -> bytes:
        with lock:
            requests[f"/{name}.xml"] += 1
        return feed_body(name)

    with serve_feeds(body_of, "scale-out-feeds") as base:
        yield base


async def test_workers_and_connectors_scale_out_and_survive_a_killed_worker(
        broker, redis_server, unique, topic_factory, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=PARTITIONS, prefix=f"{unique}.")
    requests: Counter[str] = Counter()
    with ExitStack() as stack:
        base = stack.enter_context(feed_server(requests))
        first_wave = [f"f{n:02d}" for n in range(12)]
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text(json.dumps({"feeds": [{"url": f"{base}/{name}.xml"}
                                                    for name in first_wave]}))
        common = dict(
            WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap, WIREWATCH_REDIS_URL=redis_server,
            WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=f"ww-{unique}",
            WIREWATCH_REDIS_PREFIX=f"{unique}:", WIREWATCH_TOPIC_PARTITIONS=str(PARTITIONS),
            WIREWATCH_FETCH_ALLOW_NETWORKS='["127.0.0.0/8"]',
            WIREWATCH_KAFKA_IDEMPOTENCE=str(broker.idempotent).lower(),
            # One poll per feed during the test: a second request would be a double poll.
            WIREWATCH_POLL_MIN_SECONDS="3600", WIREWATCH_POLL_DEFAULT_SECONDS="3600",
            WIREWATCH_FEEDS_REFRESH_SECONDS="1", WIREWATCH_MONITOR_SECONDS="2",
        )

        def start(name: str, *args: str, **extra: str) -> Role:
            env = wirewatch_env(**common, WIREWATCH_WEB_PORT=str(free_port()),
                                WIREWATCH_DATA_DIR=str(tmp_path / name), **extra)
            role = Role(list(args), env, tmp_path / f"{name}.log")
            stack.callback(role.close)
            return role

        workers = [start(f"worker{n}", "worker") for n in range(3)]
        connectors = [start(f"connect{n}", "connect", "--shard", f"{n}/2",
                            WIREWATCH_FEEDS_FILE=str(feeds_file)) for n in range(2)]

        web = start("web", "web")

        def logs() -> str:
            return "\n".join(f"== {r.log.name}\n{r.log.read_text()[-2000:]}"
                             for r in (*workers, *connectors, web))

        def web_counts() -> dict[str, float]:
            snapshot = web.status().get("snapshot") or {}
            return snapshot.get("stages", {}).get("normalise", {})  # type: ignore[union-attr]

        def spread(alive: list[Role]) -> bool:
            raw = {f"{topics.raw}:{p}" for p in range(PARTITIONS)}
            assigned = [r.assigned() & raw for r in alive]  # the leader has Faust's own too
            return (all(assigned) and set().union(*assigned) == raw
                    and sum(map(len, assigned)) == PARTITIONS)

        try:
            await asyncio.to_thread(wait_for, lambda: spread(workers), 180,
                                    "6 partitions spread over 3 workers")
            first_ids = await raw_ids(broker.bootstrap, topics.raw,
                                      len(first_wave) * ITEMS_PER_FEED, 120)
            seen = await article_ids(broker.bootstrap, topics.articles, first_ids, 120)
        except (AssertionError, TimeoutError):
            print(logs())
            raise
        # The web role processes nothing; its dashboard shows the workers' summed counts.
        first_count = len(first_ids)
        await asyncio.to_thread(wait_for, lambda: web_counts().get("in", 0) >= first_count,
                                60, "the web role to show every worker's counts")
        shares = [r.status() for r in connectors]
        assert all(share["holding"] for share in shares)
        owned = [set(share["feed_ids"]) for share in shares]  # type: ignore[arg-type]
        assert owned[0] and owned[1] and not owned[0] & owned[1]
        assert len(owned[0] | owned[1]) == len(first_wave)
        assert sorted(requests) == sorted(f"/{name}.xml" for name in first_wave)
        assert set(requests.values()) == {1}, requests  # no feed was polled twice

        victim = workers[0]
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(30)
        survivors = [r for r in workers if r is not victim]
        # New feeds go into the registry while the group is one worker short.
        second_wave = [f"g{n:02d}" for n in range(8)]
        client = aioredis.Redis.from_url(redis_server)
        try:
            await FeedRegistry(client, f"{unique}:").add(
                [FeedSpec(url=f"{base}/{name}.xml") for name in second_wave])
        finally:
            await client.aclose()
        try:
            await asyncio.to_thread(wait_for, lambda: spread(survivors), 120,
                                    "the killed worker's partitions taken over")
            every_id = await raw_ids(broker.bootstrap, topics.raw,
                                     (len(first_wave) + len(second_wave)) * ITEMS_PER_FEED, 120)
            seen = await article_ids(broker.bootstrap, topics.articles, every_id, 120)
        except (AssertionError, TimeoutError):
            print(logs())
            raise
        assert set(seen) == every_id  # nothing lost, nothing invented
        assert set(requests.values()) == {1}, requests
        repeats = sum(seen.values()) - len(seen)
        # At-least-once: only what the killed worker had not committed may come twice.
        assert repeats <= len(every_id) // 2
        print(json.dumps({"scale_out": {"items": len(every_id), "repeated_after_kill": repeats,
                                        "assignment": [sorted(r.assigned())
                                                       for r in survivors]}}))

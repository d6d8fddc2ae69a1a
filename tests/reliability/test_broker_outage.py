"""Apache Kafka stopped for 30 s and restarted under load: nothing restarts, nothing is lost.

A connector polls 20 feeds that grow by an item a second each, and a worker processes
them. The broker is halted (its data kept: `kafka.sh halt`) for 30 s, then resumed. The
connector's polls fail meanwhile and leave feed state unsaved, so the next poll publishes
the same items again; the worker waits for the broker. Neither process exits, and every
item the feeds listed reaches news.articles.v1. Runs only against Apache Kafka (the
embedded broker loses its topics on a restart: tests/reliability/test_embedded_restart.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from wirewatch.streams.embedded import free_port

from tests.conftest import REPO
from tests.reliability.results import record
from tests.support.processes import wait_for
from tests.support.roles import ArticleLog, Role, pipeline_env, serve_feeds

pytestmark = [pytest.mark.kafka, pytest.mark.apache_kafka, pytest.mark.redis,
              pytest.mark.slow]

FEEDS = 20
OUTAGE_SECONDS = 30.0
KAFKA_SH = ["bash", str(REPO / "deploy" / "kafka" / "kafka.sh")]


class GrowingFeeds:
    """Feed k lists items 0..n, n growing by one a second until frozen."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.frozen_at: int | None = None
        self.lock = threading.Lock()

    def count(self) -> int:
        with self.lock:
            if self.frozen_at is not None:
                return self.frozen_at
            return int(time.monotonic() - self.started) + 1

    def freeze(self) -> int:
        with self.lock:
            self.frozen_at = int(time.monotonic() - self.started) + 1
            return self.frozen_at

    def titles(self) -> set[str]:
        return {title(k, j) for k in range(FEEDS) for j in range(self.count())}


def title(feed: int, item: int) -> str:
    return f"Plant {feed} update {item}: output figures for line {item} published"


@contextmanager
def serve(feeds: GrowingFeeds) -> Iterator[str]:
    def body_of(name: str) -> bytes:
        k = int(name.removeprefix("feed"))
        items = "".join(
            f"<item><title>{title(k, j)}</title><link>https://plant{k}.example/{j}</link>"
            f"<guid>plant{k}-{j}</guid><description>Line {j} of plant {k} reported "
            f"{j * 3 % 97} units per hour in its latest figures.</description></item>"
            for j in range(feeds.count()))
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Plant {k}'
                f"</title>{items}</channel></rss>").encode()

    with serve_feeds(body_of, "growing-feeds") as base:
        yield base


def kafka_sh(command: str) -> str:
    done = subprocess.run([*KAFKA_SH, command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_30_second_kafka_outage_loses_nothing_and_restarts_nothing(
        broker, redis_server, unique, topic_factory, tmp_path: Path) -> None:
    if broker.kind != "apache":
        pytest.skip("an outage of Apache Kafka (kafka.sh halt/resume); the embedded "
                    "broker's restart is tests/reliability/test_embedded_restart.py")
    status = subprocess.run([*KAFKA_SH, "status"], capture_output=True, text=True)
    if f"bootstrap={broker.bootstrap}" not in status.stdout:
        pytest.skip("the broker under test was not started by deploy/kafka/kafka.sh")
    topics = await topic_factory(partitions=2, prefix=f"{unique}.")
    feeds = GrowingFeeds()
    with serve(feeds) as base:
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text(json.dumps({"feeds": [{"url": f"{base}/feed{k}.xml"}
                                                    for k in range(FEEDS)]}))

        def env(name: str) -> dict[str, str]:
            return pipeline_env(
                bootstrap=broker.bootstrap, redis_url=redis_server, unique=unique,
                directory=tmp_path / name, idempotent=True, partitions=2,
                WIREWATCH_WEB_PORT=str(free_port()), WIREWATCH_FEEDS_FILE=str(feeds_file),
                WIREWATCH_FETCH_ALLOW_NETWORKS='["127.0.0.0/8"]',
                WIREWATCH_POLL_MIN_SECONDS="1", WIREWATCH_POLL_MAX_SECONDS="2",
                WIREWATCH_POLL_DEFAULT_SECONDS="1")

        articles = ArticleLog(broker.bootstrap, topics.articles)
        reader = asyncio.create_task(articles.run())
        worker = Role(["worker"], env("worker"), tmp_path / "worker.log")
        connector = Role(["connect"], env("connect"), tmp_path / "connect.log")
        halted = False
        try:
            await asyncio.to_thread(wait_for, lambda: len(articles.seen) >= 4 * FEEDS, 120,
                                    "items flowing before the outage")
            kafka_sh("halt")
            halted = True
            await asyncio.sleep(OUTAGE_SECONDS)  # the fault itself: the broker stays away
            kafka_sh("resume")
            halted = False
            resumed, before = time.monotonic(), len(articles.seen)
            assert worker.process.poll() is None and connector.process.poll() is None
            await asyncio.to_thread(wait_for, lambda: len(articles.seen) > before, 120,
                                    "articles again after the broker came back")
            recovery = round(time.monotonic() - resumed, 1)
            await asyncio.to_thread(wait_for, lambda: time.monotonic() - resumed > 5, 10,
                                    "a few more polls")  # the feeds keep growing meanwhile
            feeds.freeze()
            expected = feeds.titles()
            await asyncio.to_thread(
                wait_for, lambda: expected <= set(articles.title_of.values()), 180,
                f"all {len(expected)} items in news.articles.v1")
            assert worker.process.poll() is None and connector.process.poll() is None
        except AssertionError:
            for role in (worker, connector):
                print(f"== {role.log.name}\n{role.log.read_text()[-3000:]}")
            raise
        finally:
            if halted:
                kafka_sh("resume")
            worker.close()
            connector.close()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    repeated = sum(articles.seen.values()) - len(articles.seen)
    record("test_broker_outage", {
        "fault": f"Apache Kafka stopped for {OUTAGE_SECONDS:.0f} s under load",
        "what_happened": "connector polls failed and were retried, worker waited; neither "
                         "restarted; every item the feeds listed arrived",
        "items_lost": len(expected - set(articles.title_of.values())), "duplicates": 0,
        "recovery_seconds": recovery, "items": len(expected), "articles_repeated": repeated})

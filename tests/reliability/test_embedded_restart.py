"""The embedded broker keeps topics in memory: what a restart would lose is published again.

Items the connector published but no worker processed before the broker went away are kept
in Redis (wirewatch.connectors.unprocessed); the next `wirewatch run` on the same data dir starts a
fresh broker, publishes them again and processes them, so their alerts still go out, and
the record of unprocessed items is empty afterwards.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from wirewatch.connectors.publish import RawItemPublisher, new_producer
from wirewatch.connectors.unprocessed import UnprocessedItems
from wirewatch.streams.embedded import embedded_services, free_port
from wirewatch.streams.topics import TopicNames, ensure_topics

from tests.integration.test_pipeline import SUBSCRIPTIONS
from tests.reliability.results import record
from tests.support.processes import stop, wait_for, wirewatch_env
from tests.support.replay_corpus import MICROSOFT, OPENAI, T0, item

pytestmark = pytest.mark.embedded

PREFIX = "ww:"  # the default: `wirewatch run` below uses it


async def unprocessed_count(data_dir: Path) -> int:
    with embedded_services(None, None, data_dir, need_kafka=False) as endpoints:
        client = aioredis.Redis.from_url(endpoints.redis_url)
        try:
            return await UnprocessedItems(client, prefix=PREFIX).count()
        finally:
            await client.aclose()


async def test_items_a_stopped_embedded_broker_took_along_are_processed_after_restart(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    items = [item(1, OPENAI, "wire.example", T0), item(2, MICROSOFT, "markets.example", T0),
             item(3, OPENAI, "techblog.example", T0)]
    # A connector publishes to the embedded broker; the process stops before any worker
    # processed them, and the broker's topics go with it.
    with embedded_services(None, None, data_dir) as endpoints:
        topics = TopicNames.with_prefix("")
        await ensure_topics(endpoints.kafka_bootstrap, topics, partitions=1, replication=1)
        client = aioredis.Redis.from_url(endpoints.redis_url)
        producer = new_producer(endpoints.kafka_bootstrap, idempotent=False, client_id="t")
        await producer.start()
        try:
            await RawItemPublisher(producer, topics.raw, unprocessed=UnprocessedItems(
                client, prefix=PREFIX)).publish(items)
        finally:
            await producer.stop()
            await client.aclose()
    assert await unprocessed_count(data_dir) == 3

    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(SUBSCRIPTIONS)
    started = time.monotonic()
    run = subprocess.Popen(
        [sys.executable, "-m", "wirewatch", "run", "--subscriptions", str(subscriptions)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=wirewatch_env(WIREWATCH_DATA_DIR=str(data_dir),
                          WIREWATCH_WEB_PORT=str(free_port())))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stdout or []), daemon=True)
    reader.start()
    try:
        await asyncio.to_thread(wait_for, lambda: sum(
            line.startswith("ALERT ") for line in list(lines)) >= 2, 120, "two alerts")
        recovery = round(time.monotonic() - started, 1)
        # A CLI beside the running pipeline shares its Redis (same data dir).
        deadline = time.monotonic() + 30
        while await unprocessed_count(data_dir) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
    finally:
        stop(run)
        reader.join(10)
        stderr = run.stderr.read() if run.stderr else ""
        for stream in (run.stdout, run.stderr):
            if stream is not None:
                stream.close()
    assert run.returncode == 0, stderr[-3000:]
    assert "published 3 items again" in stderr
    alerts = sorted(line for line in lines if line.startswith("ALERT "))
    assert [line.split("]")[0] for line in alerts] == [
        "ALERT [Microsoft earnings", "ALERT [OpenAI safety and leadership"]
    assert await unprocessed_count(data_dir) == 0
    record("test_embedded_restart", {
        "fault": "embedded broker restarted with items not yet processed",
        "what_happened": "its topics were empty; the 3 unprocessed items kept in Redis were "
                         "published again and alerted",
        "items_lost": 0, "duplicates": 0, "recovery_seconds": recovery})

"""The connector polls a local feed, publishes RawItems once, and republishes only edits."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.fetch import new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.poller import FeedPoller
from wirewatch.connectors.publish import RawItemPublisher, new_producer
from wirewatch.connectors.records import decode_raw_item
from wirewatch.connectors.state import FeedStateStore
from wirewatch.streams.demo import serve_samples
from wirewatch.streams.logs import json_formatter

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Local</title>
<item><title>{title}</title><link>https://local.example/a?utm_source=x</link><guid>a</guid>
<description>First story body.</description></item>
<item><title>Second</title><link>https://local.example/b</link><guid>b</guid>
<description>Second story body.</description></item>
</channel></rss>"""


async def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    records.extend(messages)
        # Anything beyond `expected` that is already there is a bug too: drain briefly.
        extra = await consumer.getmany(timeout_ms=1000)
        records.extend(m for messages in extra.values() for m in messages)
    finally:
        await consumer.stop()
    return records


@contextlib.asynccontextmanager
async def local_poller(broker, redis_client, unique: str, raw_topic: str, directory: Path,
                       feed_name: str) -> AsyncIterator[tuple[FeedPoller, FeedSpec]]:
    """A FeedPoller for one feed served from `directory` on loopback."""
    policy = AddressPolicy(["127.0.0.0/8"])
    producer = new_producer(broker.bootstrap, idempotent=broker.idempotent, client_id=unique)
    await producer.start()
    session = new_session(policy)
    try:
        with serve_samples(directory) as base:
            spec = FeedSpec(url=f"{base}/{feed_name}", name="Local")
            store = FeedStateStore(redis_client, prefix=f"{unique}:")
            yield FeedPoller([spec], session=session, store=store, policy=policy,
                             publisher=RawItemPublisher(producer, raw_topic)), spec
    finally:
        await session.close()
        await producer.stop()


async def poll(poller: FeedPoller, spec: FeedSpec):
    return await poller.poll_one(spec, await poller.store.load(spec.feed_id))


async def test_polls_publishes_and_republishes_only_edits(broker, redis_client, unique,
                                                         topic_factory, tmp_path: Path):
    topics = await topic_factory()
    feed_file = tmp_path / "feed.xml"
    feed_file.write_text(RSS.format(title="First"))
    async with local_poller(broker, redis_client, unique, topics.raw, tmp_path,
                            "feed.xml") as (poller, spec):
        first = await poll(poller, spec)
        unchanged = await poll(poller, spec)
        feed_file.write_text(RSS.format(title="First, corrected"))
        # Last-Modified has one-second resolution: date the edit visibly later.
        later = feed_file.stat().st_mtime + 60
        os.utime(feed_file, (later, later))
        edited = await poll(poller, spec)

    assert (first.status, first.published) == (200, 2)
    assert (unchanged.status, unchanged.published) == (304, 0)  # conditional GET worked
    assert (edited.status, edited.published) == (200, 1)

    records = await read_all(broker.bootstrap, topics.raw, expected=3)
    items = [decode_raw_item(record.value) for record in records]
    assert len(items) == 3
    assert [i.is_update for i in items if i.guid == "a"] == [False, True]
    assert {i.url for i in items} == {"https://local.example/a", "https://local.example/b"}
    for record, item in zip(records, items, strict=True):
        assert record.key == item.item_id.encode()
        assert dict(record.headers)["feed_id"] == spec.feed_id.encode()

    state = await poller.store.load(spec.feed_id)
    assert state.last_status == 200 and state.error_streak == 0
    assert state.items_published == 3


async def test_feed_errors_are_recorded_and_backed_off(broker, redis_client, unique,
                                                      topic_factory, tmp_path: Path):
    topics = await topic_factory()
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(json_formatter())  # what WIREWATCH_LOG_FORMAT=json writes
    logger = logging.getLogger("wirewatch.connectors.poller")
    logger.addHandler(handler)
    try:
        async with local_poller(broker, redis_client, unique, topics.raw, tmp_path,
                                "missing.xml") as (poller, spec):
            outcome = await poll(poller, spec)
            again = await poll(poller, spec)
    finally:
        logger.removeHandler(handler)
    assert outcome.status == 404 and again.status == 404
    state = await poller.store.load(spec.feed_id)
    assert state.error_streak == 2
    assert state.last_error == "HTTP 404"
    assert state.next_poll > state.last_attempt  # still scheduled, never abandoned
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [(entry["message"], entry["feed_url"], entry["error"], entry["status"],
             entry["failures_in_a_row"]) for entry in logged] == [
        ("feed poll failed", spec.url, "HTTP 404", 404, 1),
        ("feed poll failed", spec.url, "HTTP 404", 404, 2)]
    assert logged[1]["level"] == "WARNING" and logged[1]["retry_in_seconds"] > 0


async def test_a_failure_under_another_setup_does_not_delay_the_first_poll(
        broker, redis_client, unique, topic_factory, tmp_path: Path):
    """Refused as private, then run again with --allow-network: polled at once, not after
    the error's backoff; restarted with the same set-up, the backoff holds."""
    topics = await topic_factory()
    (tmp_path / "feed.xml").write_text(RSS.format(title="First"))
    producer = new_producer(broker.bootstrap, idempotent=broker.idempotent, client_id=unique)
    await producer.start()
    store = FeedStateStore(redis_client, prefix=f"{unique}:")

    def poller_for(spec: FeedSpec, policy: AddressPolicy,
                   session: aiohttp.ClientSession) -> FeedPoller:
        return FeedPoller([spec], session=session, store=store, policy=policy,
                          publisher=RawItemPublisher(producer, topics.raw))

    try:
        with serve_samples(tmp_path) as base:
            spec = FeedSpec(url=f"{base}/feed.xml", name="Local")
            refused = AddressPolicy([])
            async with new_session(refused) as session:
                [failed] = await poller_for(spec, refused, session).poll_due()
                assert failed.error is not None and "--allow-network 127.0.0.0/8" in failed.error
                assert await poller_for(spec, refused, session).poll_due() == []  # backoff
            allowed = AddressPolicy(["127.0.0.0/8"])
            async with new_session(allowed) as session:
                [polled] = await poller_for(spec, allowed, session).poll_due()
                assert (polled.status, polled.published, polled.error) == (200, 2, None)
    finally:
        await producer.stop()
    state = await store.load(spec.feed_id)
    assert state.error_streak == 0 and state.items_published == 2


class FailingOncePublisher:
    """Stands in for Kafka being unreachable during the first publish only."""

    def __init__(self, inner: RawItemPublisher) -> None:
        self.inner = inner
        self.failures = 0

    async def publish(self, items) -> None:
        if self.failures == 0:
            self.failures += 1
            raise KafkaConnectionError("broker unreachable")
        await self.inner.publish(items)


async def test_a_failed_publish_loses_nothing(broker, redis_client, unique, topic_factory,
                                             tmp_path: Path):
    topics = await topic_factory()
    (tmp_path / "feed.xml").write_text(RSS.format(title="First"))
    async with local_poller(broker, redis_client, unique, topics.raw, tmp_path,
                            "feed.xml") as (poller, spec):
        poller.publisher = FailingOncePublisher(poller.publisher)
        failed = await poll(poller, spec)
        state = await poller.store.load(spec.feed_id)
        assert failed.published == 0 and "publish failed" in (failed.error or "")
        assert state.etag is None and state.last_modified is None  # no 304 next time
        assert state.next_poll <= state.last_attempt + poller.bounds.min_seconds
        retried = await poll(poller, spec)
    assert (retried.status, retried.published) == (200, 2)
    records = await read_all(broker.bootstrap, topics.raw, expected=2)
    assert len(records) == 2


async def test_a_page_that_is_not_a_feed_is_an_error_and_keeps_no_validators(
        broker, redis_client, unique, topic_factory, tmp_path: Path):
    topics = await topic_factory()
    page = tmp_path / "feed.xml"
    page.write_text("<!doctype html><html><body><p>Site under maintenance</p></body></html>")
    async with local_poller(broker, redis_client, unique, topics.raw, tmp_path,
                            "feed.xml") as (poller, spec):
        broken = await poll(poller, spec)
        state = await poller.store.load(spec.feed_id)
        assert broken.published == 0 and broken.error
        assert (state.error_class, state.error_streak) == ("ParseError", 1)
        assert state.last_modified is None  # so the repaired feed is fetched in full
        page.write_text(RSS.format(title="First"))
        repaired = await poll(poller, spec)
    assert (repaired.status, repaired.published) == (200, 2)


async def test_an_item_kafka_refuses_does_not_block_its_feed(
        broker, redis_client, unique, topic_factory, tmp_path: Path):
    topics = await topic_factory()
    huge = "x" * 1_200_000  # over the producer's 1 MiB request limit
    (tmp_path / "feed.xml").write_text(RSS.format(title="First").replace(
        "Second story body.", huge))
    async with local_poller(broker, redis_client, unique, topics.raw, tmp_path,
                            "feed.xml") as (poller, spec):
        first = await poll(poller, spec)
        state = await poller.store.load(spec.feed_id)
        again = await poll(poller, spec)
    assert (first.status, first.published) == (200, 1)
    assert "refused by Kafka" in (state.last_error or "") and state.error_streak == 0
    assert state.last_modified is not None  # not refetched in full forever
    assert again.status == 304
    records = await read_all(broker.bootstrap, topics.raw, expected=1)
    assert [decode_raw_item(r.value).title for r in records] == ["First"]


async def test_a_hanging_feed_does_not_hold_up_the_others(broker, redis_client, unique,
                                                         topic_factory):
    from wirewatch.connectors.fetch import FetchLimits
    from wirewatch.connectors.schedule import ScheduleBounds

    from tests.support.feedserver import feed_server
    from tests.support.hub import eventually

    topics = await topic_factory()
    policy = AddressPolicy(["127.0.0.0/8"])
    producer = new_producer(broker.bootstrap, idempotent=broker.idempotent, client_id=unique)
    await producer.start()
    session = new_session(policy)
    try:
        async with feed_server() as port:
            hanging = FeedSpec(url=f"http://127.0.0.1:{port}/hang")
            healthy = FeedSpec(url=f"http://127.0.0.1:{port}/ok")
            store = FeedStateStore(redis_client, prefix=f"{unique}:")
            poller = FeedPoller([hanging, healthy], session=session, store=store, policy=policy,
                                publisher=RawItemPublisher(producer, topics.raw),
                                limits=FetchLimits(deadline_seconds=30.0),
                                bounds=ScheduleBounds(min_seconds=0.2, max_seconds=0.5,
                                                      default_seconds=0.2))
            loop_task = asyncio.create_task(poller.run_forever(tick_seconds=0.05))
            first_success: list[float] = []

            async def healthy_polled_again() -> bool:
                state = await store.load(healthy.feed_id)
                if state.last_success is not None and not first_success:
                    first_success.append(state.last_success)
                return bool(first_success) and (state.last_success or 0) > first_success[0]

            try:  # polled again and again while the other feed hangs for 30 s
                await eventually(healthy_polled_again, "a second poll of the healthy feed",
                                 timeout=10)
                assert (await store.load(hanging.feed_id)).last_attempt is None
            finally:
                loop_task.cancel()
                await asyncio.gather(loop_task, return_exceptions=True)
    finally:
        await session.close()
        await producer.stop()

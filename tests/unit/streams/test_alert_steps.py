"""The worker's match and deliver steps across a crash: an alert decided but never queued
is decided again when the worker processes the same raw item after a restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from wirewatch.alerts.matching import Sent
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.records import event_unit
from wirewatch.alerts.state import SentStore
from wirewatch.alerts.store import LiveSubscriptions, SubscriptionStore
from wirewatch.alerts.subscriptions import Subscription
from wirewatch.connectors.records import RawItem
from wirewatch.streams.app import pipeline_steps, run_batch
from wirewatch.streams.dedupe.service import StoryAssigner
from wirewatch.streams.dedupe.stories import StoryStore
from wirewatch.streams.events.service import EventAssigner
from wirewatch.streams.ops.activity import Activity
from wirewatch.streams.records import encode
from wirewatch.streams.tagging.reload import TaggerSource
from wirewatch.streams.topics import TopicNames

from tests.unit.streams.test_pipeline_steps import App, DeadLetters

pytestmark = [pytest.mark.redis]

ITEM = RawItem(
    item_id="wire-1", feed_id="wire", feed_url="https://wire.example/rss", source="Wire",
    url="https://wire.example/microsoft-contoso",
    title="Microsoft agrees to buy Contoso for $2 billion",
    content="<p>Microsoft Corp said on Monday it had agreed to acquire Contoso, the maker "
            "of accounting software, for $2 billion in cash.</p><p>Microsoft expects the "
            "deal to close in the second quarter.</p>",
    fetched_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC))


async def test_a_crash_between_match_and_deliver_loses_no_alert(redis_server: str,
                                                                unique: str) -> None:
    client = aioredis.Redis.from_url(redis_server)
    prefix = f"{unique}:"
    store = SubscriptionStore(client, prefix=prefix)
    await store.save(Subscription.create(name="Microsoft", owner="ana",
                                         query="entity:microsoft", channels=("sink",)))
    names = TopicNames.with_prefix(f"{unique}.")
    steps = pipeline_steps(
        names, TaggerSource(),
        assigner=StoryAssigner(client, prefix=prefix, window_seconds=86400),
        stories=StoryStore(client, prefix=prefix, window_seconds=86400),
        activity=Activity(client, prefix=prefix),
        live=LiveSubscriptions(store, refresh_seconds=0),
        sent_store=SentStore(client, prefix=prefix), outbox=Outbox(client, prefix=prefix),
        events=EventAssigner(client, prefix=prefix))
    record = [(ITEM.item_id.encode(), encode(ITEM))]
    try:
        # The worker dies once match has handed its alert to the producer, before the deliver
        # step queued it: its offset is not committed.
        first, dead = App(), DeadLetters()
        await run_batch(first, steps[:3], record, dead)  # type: ignore[arg-type]
        assert [topic for topic, _, _ in first.producer.sent].count(names.alerts) == 1
        assert await client.xlen(f"{prefix}outbox:sink") == 0
        # Restarted, it processes the same raw item again, every step this time.
        again = App()
        await run_batch(again, steps, record, dead)  # type: ignore[arg-type]
        assert [topic for topic, _, _ in again.producer.sent].count(names.alerts) == 1
        assert await client.xlen(f"{prefix}outbox:sink") == 1
        # The deliver step recorded the event as told, with match's decision.
        told = await SentStore(client, prefix=prefix).load(["microsoft"],
                                                           event_unit(ITEM.item_id))
        assert told["microsoft"] == Sent(ITEM.title, 1, 0, 1)
        # A third time (a replay): the story was told, so nothing new is queued.
        await run_batch(App(), steps, record, dead)  # type: ignore[arg-type]
        assert await client.xlen(f"{prefix}outbox:sink") == 1
        assert dead.letters == []
    finally:
        await client.aclose()

"""WebSub through the connector: a polled feed names a hub, the hub pushes, items reach Kafka."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from wirewatch.connectors.fetch import new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.records import decode_raw_item
from wirewatch.connectors.websub import WebSubStore, WebSubSubscriber

from tests.integration.test_connector import local_poller, poll, read_all
from tests.support.hub import LocalHub, bind_loopback, eventually, start_app

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

FEED = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Hubbed</title>
<link rel="hub" href="{hub}"/><link rel="self" href="{topic}"/>
<entry><id>urn:polled</id><title>Polled story</title><link href="https://h.example/1"/></entry>
</feed>"""
PUSHED = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Hubbed</title>
<entry><id>urn:pushed</id><title>Pushed story</title><link href="https://h.example/2"/></entry>
</feed>"""
TOPIC = "https://h.example/feed.atom"


async def test_polled_feed_with_a_hub_is_pushed_and_then_polled_only_as_fallback(
        broker, redis_client, unique, topic_factory, tmp_path: Path):
    topics = await topic_factory()
    hub = await LocalHub().start()
    (tmp_path / "feed.atom").write_text(FEED.format(hub=hub.url, topic=TOPIC))
    policy = AddressPolicy(["127.0.0.0/8"])
    callback_socket = bind_loopback()
    callback_base = f"http://127.0.0.1:{callback_socket.getsockname()[1]}"
    session = new_session(policy)
    callback_runner: web.AppRunner | None = None
    try:
        async with local_poller(broker, redis_client, unique, topics.raw, tmp_path,
                                "feed.atom") as (poller, spec):
            poller.websub = WebSubSubscriber(
                session, WebSubStore(redis_client, f"{unique}:"), callback_base,
                poller.ingest, policy=policy, lease_seconds=3600)
            callback_runner = await start_app(poller.websub.app(), callback_socket)

            first = await poll(poller, spec)
            assert first.published == 1
            await eventually(lambda: hub.verified(TOPIC), "the hub to verify the subscription")
            assert await poller.websub.active_feeds() == {spec.feed_id}

            assert await hub.publish(TOPIC, PUSHED) == [202]
            assert await hub.publish(TOPIC, PUSHED, signature="bad") == [202]  # dropped

            second = await poll(poller, spec)  # 304: nothing new, now scheduled as fallback
            state = await poller.store.load(spec.feed_id)
            assert second.status == 304
            assert state.next_poll - state.last_attempt >= poller.bounds.max_seconds * 0.89
    finally:
        if callback_runner is not None:
            await callback_runner.cleanup()
        await session.close()
        await hub.close()

    items = [decode_raw_item(r.value) for r in
             await read_all(broker.bootstrap, topics.raw, expected=2)]
    assert sorted(item.title for item in items) == ["Polled story", "Pushed story"]
    assert {item.feed_id for item in items} == {spec.feed_id}

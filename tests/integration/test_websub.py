"""WebSub against a real local hub: verify, signed push, renewal, denial, failure, unsubscribe."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from wirewatch.connectors.fetch import new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.identity import feed_id as make_feed_id
from wirewatch.connectors.websub import WebSubStore, WebSubSubscriber, WebSubSubscription, sign

from tests.support.hub import LocalHub, bind_loopback, eventually, start_app

pytestmark = [pytest.mark.redis]

TOPIC = "https://news.example/feed.xml"
FEED_ID = make_feed_id(TOPIC)
LEASE = 3600
BODY = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Pushed</title>
<entry><id>urn:1</id><title>Pushed story</title><link href="https://news.example/1"/></entry>
</feed>"""


class Clock:
    """A clock the test moves by hand; the subscriber reads it for leases and retries."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    subscriber: WebSubSubscriber
    store: WebSubStore
    clock: Clock
    hub: LocalHub
    received: list[tuple[str, bytes, str]] = field(default_factory=list)

    async def sub(self) -> WebSubSubscription | None:
        return await self.store.load(FEED_ID)

    async def state_is(self, state: str) -> bool:
        sub = await self.sub()
        return sub is not None and sub.state == state

    async def subscribe_verified(self) -> WebSubSubscription:
        await self.subscriber.subscribe(FEED_ID, TOPIC, self.hub.url)
        await eventually(lambda: self.state_is("verified"), "the hub to verify the subscription")
        sub = await self.sub()
        assert sub is not None
        return sub


@pytest.fixture
async def hub() -> AsyncIterator[LocalHub]:
    hub = await LocalHub().start()
    yield hub
    await hub.close()


@contextlib.asynccontextmanager
async def make_harness(
    redis_client, unique: str, hub: LocalHub, policy: AddressPolicy,
    failing: Callable[[], Awaitable[None]] | None = None, **options,
) -> AsyncIterator[Harness]:
    session = new_session(policy)
    store = WebSubStore(redis_client, prefix=f"{unique}:")
    clock = Clock()
    received: list[tuple[str, bytes, str]] = []

    async def on_content(feed_id: str, body: bytes, content_type: str) -> None:
        if failing is not None:
            await failing()
        received.append((feed_id, body, content_type))

    sock = bind_loopback()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    subscriber = WebSubSubscriber(session, store, base, on_content, policy=policy, clock=clock,
                                  lease_seconds=LEASE, **options)
    runner = await start_app(subscriber.app(), sock)
    try:
        yield Harness(subscriber, store, clock, hub, received)
    finally:
        await runner.cleanup()
        await session.close()


@pytest.fixture
async def harness(redis_client, unique, hub) -> AsyncIterator[Harness]:
    async with make_harness(redis_client, unique, hub, AddressPolicy(["127.0.0.0/8"]),
                            retry_seconds=600, max_body_bytes=64 * 1024) as made:
        yield made


async def test_subscribe_is_verified_and_signed_content_is_delivered(harness: Harness):
    hub = harness.hub
    sub = await harness.subscribe_verified()

    [request] = hub.requests_for(TOPIC)
    assert request.callback == sub.callback_url and request.secret == sub.secret
    assert request.lease_seconds == LEASE
    assert sub.expires_at == harness.clock.now + LEASE
    assert await harness.subscriber.active_feeds() == {FEED_ID}

    assert await hub.publish(TOPIC, BODY) == [202]
    assert harness.received == [(FEED_ID, BODY, "application/atom+xml")]
    assert await hub.publish(TOPIC, BODY, algo="sha512") == [202]
    assert len(harness.received) == 2


@pytest.mark.parametrize("signature", ["bad", "none"])
async def test_unsigned_or_badly_signed_content_is_acknowledged_but_dropped(
        harness: Harness, signature: str):
    await harness.subscribe_verified()
    # The handler answers only after it has dealt with the body, so no wait is needed.
    assert await harness.hub.publish(TOPIC, BODY, signature=signature) == [202]
    assert harness.received == []


async def test_verification_the_subscriber_never_asked_for_is_refused(harness: Harness):
    hub = harness.hub
    sub = await harness.subscribe_verified()
    other = "https://elsewhere.example/feed.xml"
    wrong_token = sub.callback_url.rsplit("/", 1)[0] + "/guessed"
    unknown_feed = sub.callback_url.replace(FEED_ID, "0123456789abcdef")

    assert await hub.verify(sub.callback_url, "subscribe", other) == (404, False)
    assert await hub.verify(sub.callback_url, "unsubscribe", TOPIC) == (404, False)
    # Verified and no renewal pending: a fresh "subscribe" verification was not asked for.
    assert await hub.verify(sub.callback_url, "subscribe", TOPIC, 99) == (404, False)
    assert await hub.verify(wrong_token, "subscribe", TOPIC) == (404, False)
    assert await hub.verify(unknown_feed, "subscribe", TOPIC) == (404, False)
    assert await hub.deny(wrong_token, TOPIC) == 404
    assert await harness.sub() == sub


async def test_content_for_an_unknown_callback_is_gone_and_oversize_is_refused(
        harness: Harness):
    sub = await harness.subscribe_verified()
    async with aiohttp.ClientSession() as session:
        gone = sub.callback_url.rsplit("/", 1)[0] + "/guessed"
        async with session.post(gone, data=BODY) as response:
            assert response.status == 410
        big = b"x" * (64 * 1024 + 1)
        headers = {"X-Hub-Signature": sign(sub.secret, big)}
        async with session.post(sub.callback_url, data=big, headers=headers) as response:
            assert response.status == 413
    assert harness.received == []


async def test_renew_due_resubscribes_with_the_same_callback_and_secret(harness: Harness):
    hub = harness.hub
    first = await harness.subscribe_verified()
    assert await harness.subscriber.renew_due() == []

    assert first.expires_at is not None
    harness.clock.now = first.expires_at + 1  # past expiry: renewal is overdue
    assert await harness.subscriber.renew_due() == [FEED_ID]
    await eventually(lambda: len(hub.verified(TOPIC)) == 2, "the hub to verify the renewal")
    second, renewed = hub.requests_for(TOPIC)
    assert (renewed.callback, renewed.secret) == (second.callback, second.secret)
    sub = await harness.sub()
    assert sub is not None and sub.state == "verified"
    assert sub.expires_at == harness.clock.now + LEASE
    assert len(hub.subscribers) == 1  # one lease at the hub, not two
    assert await hub.publish(TOPIC, BODY) == [202]
    assert len(harness.received) == 1


async def test_lease_granted_by_the_hub_wins_and_expiry_ends_push(harness: Harness):
    harness.hub.grant_lease = 120
    sub = await harness.subscribe_verified()
    assert (sub.lease_seconds, sub.expires_at) == (120, harness.clock.now + 120)
    harness.clock.now += 121
    assert await harness.subscriber.active_feeds() == set()


async def test_hub_failure_leaves_the_feed_polled_and_is_retried_later(harness: Harness):
    hub = harness.hub
    hub.fail_subscribe = True
    sub = await harness.subscriber.ensure(FEED_ID, TOPIC, hub.url)
    assert sub.state == "failed" and sub.last_error == "hub answered HTTP 500"
    assert await harness.subscriber.active_feeds() == set()

    hub.fail_subscribe = False
    assert (await harness.subscriber.ensure(FEED_ID, TOPIC, hub.url)).state == "failed"
    assert len(hub.requests_for(TOPIC)) == 1  # too soon to ask again
    harness.clock.now += 601
    await harness.subscriber.ensure(FEED_ID, TOPIC, hub.url)
    await eventually(lambda: harness.state_is("verified"), "the retried subscription")
    assert await harness.subscriber.active_feeds() == {FEED_ID}


async def test_unreachable_or_blocked_hub_fails_without_raising(harness: Harness):
    closed = bind_loopback()  # bound, never listening: connection refused
    refused = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    closed.close()
    sub = await harness.subscriber.subscribe(FEED_ID, TOPIC, refused)
    assert sub.state == "failed" and sub.last_error and "ClientConnectorError" in sub.last_error

    sub = await harness.subscriber.subscribe(FEED_ID, TOPIC, "ftp://hub.example/")
    assert (sub.state, sub.last_error) == ("failed", "unsupported hub URL")


async def test_hub_on_a_blocked_address_is_never_contacted(redis_client, unique, hub):
    async with make_harness(redis_client, unique, hub, AddressPolicy()) as harness:
        sub = await harness.subscriber.subscribe(FEED_ID, TOPIC, hub.url)
        assert sub.state == "failed" and "BlockedAddressError" in (sub.last_error or "")
        assert hub.requests == []


async def test_a_failing_content_handler_asks_the_hub_to_retry(redis_client, unique, hub):
    async def kafka_down() -> None:
        raise ConnectionError("broker unavailable")

    policy = AddressPolicy(["127.0.0.0/8"])
    async with make_harness(redis_client, unique, hub, policy, failing=kafka_down) as harness:
        await harness.subscribe_verified()
        assert await hub.publish(TOPIC, BODY) == [503]


async def test_denial_ends_push(harness: Harness):
    sub = await harness.subscribe_verified()
    assert await harness.hub.deny(sub.callback_url, TOPIC, "policy\r\nX-Injected: 1") == 200
    sub = await harness.sub()
    assert sub is not None and sub.state == "denied" and sub.expires_at is None
    assert sub.last_error == "denied by hub: policyX-Injected: 1"
    assert await harness.subscriber.active_feeds() == set()


async def test_unsubscribe_is_verified_then_forgotten(harness: Harness):
    hub = harness.hub
    sub = await harness.subscribe_verified()
    pending = await harness.subscriber.unsubscribe(FEED_ID)
    assert pending is not None and pending.state == "unsubscribing"
    await eventually(lambda: not hub.subscribers, "the hub to drop the subscriber")
    assert hub.verified(TOPIC, "unsubscribe")
    assert await harness.sub() is None
    assert await harness.subscriber.active_feeds() == set()
    async with aiohttp.ClientSession() as session:
        headers = {"X-Hub-Signature": sign(sub.secret, BODY)}
        async with session.post(sub.callback_url, data=BODY, headers=headers) as response:
            assert response.status == 410

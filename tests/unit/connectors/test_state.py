"""wirewatch.connectors.state.FeedStateStore against a real redis-server."""

from __future__ import annotations

import msgspec
import pytest
import redis.asyncio as aioredis
from wirewatch.connectors.fetch import Validators
from wirewatch.connectors.state import FeedState, FeedStateStore

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_client: aioredis.Redis, unique: str) -> FeedStateStore:
    return FeedStateStore(redis_client, prefix=f"test:{unique}:")


async def test_unknown_feed_has_default_state(store: FeedStateStore) -> None:
    state = await store.load("never-seen")
    assert state == FeedState()
    assert state.validators == Validators()


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(FeedState(), id="defaults"),
        pytest.param(FeedState(
            etag='W/"abc"', last_modified="Mon, 02 Mar 2026 10:00:00 GMT", last_status=200,
            last_error="SAXParseException: junk", error_class=None, error_streak=0,
            last_success=1772445600.25, last_attempt=1772445600.25, next_poll=1772445900.5,
            items_published=42,
        ), id="after-success"),
        pytest.param(FeedState(
            last_status=503, last_error="HTTP 503 — ünïcode", error_class="HTTPStatus",
            error_streak=7, last_attempt=1.5, next_poll=3601.5,
        ), id="after-errors"),
    ],
)
async def test_save_load_round_trip(store: FeedStateStore, state: FeedState) -> None:
    await store.save("feed-a", state)
    assert await store.load("feed-a") == state


async def test_states_are_per_feed_and_overwritten(store: FeedStateStore) -> None:
    await store.save("feed-a", FeedState(etag="a1"))
    await store.save("feed-b", FeedState(etag="b1"))
    await store.save("feed-a", FeedState(etag="a2", error_streak=1))
    assert await store.load("feed-a") == FeedState(etag="a2", error_streak=1)
    assert await store.load("feed-b") == FeedState(etag="b1")


async def test_prefix_isolates_stores(redis_client: aioredis.Redis, unique: str) -> None:
    first = FeedStateStore(redis_client, prefix=f"test:{unique}:one:")
    second = FeedStateStore(redis_client, prefix=f"test:{unique}:two:")
    await first.save("feed", FeedState(items_published=3))
    await first.record_items("feed", {"i1": "h1"})
    assert await second.load("feed") == FeedState()
    assert await second.item_hashes("feed", ["i1"]) == {}
    assert await redis_client.exists(f"test:{unique}:one:feed:feed:state") == 1


async def test_load_ignores_unknown_fields(
    store: FeedStateStore, redis_client: aioredis.Redis, unique: str,
) -> None:
    # A state written by a newer version with an extra field must still load.
    raw = msgspec.json.encode({"etag": "e", "error_streak": 2, "added_later": True})
    await redis_client.set(f"test:{unique}:feed:feed-x:state", raw)
    assert await store.load("feed-x") == FeedState(etag="e", error_streak=2)


async def test_validators_from_state(store: FeedStateStore) -> None:
    await store.save("feed-a", FeedState(etag='"v1"', last_modified="yesterday"))
    loaded = await store.load("feed-a")
    assert loaded.validators == Validators(etag='"v1"', last_modified="yesterday")


@pytest.mark.parametrize(
    ("recorded", "asked", "expected"),
    [
        pytest.param({}, ["i1"], {}, id="nothing-recorded"),
        pytest.param({"i1": "h1", "i2": "h2"}, ["i1", "i2"], {"i1": "h1", "i2": "h2"},
                     id="all-known"),
        pytest.param({"i1": "h1"}, ["i1", "new"], {"i1": "h1"}, id="new-ids-absent"),
        pytest.param({"i1": "h1", "i2": "h2"}, [], {}, id="empty-query"),
        pytest.param({"i1": "h1", "i2": "h2"}, ["i2"], {"i2": "h2"}, id="subset"),
    ],
)
async def test_item_hashes(
    store: FeedStateStore, recorded: dict[str, str], asked: list[str],
    expected: dict[str, str],
) -> None:
    await store.record_items("feed-a", recorded)
    assert await store.item_hashes("feed-a", asked) == expected


async def test_record_items_updates_hash_and_is_per_feed(store: FeedStateStore) -> None:
    await store.record_items("feed-a", {"i1": "h1", "i2": "h2"})
    await store.record_items("feed-a", {"i1": "h1-edited"})
    await store.record_items("feed-b", {"i1": "other"})
    assert await store.item_hashes("feed-a", ["i1", "i2"]) == {"i1": "h1-edited", "i2": "h2"}
    assert await store.item_hashes("feed-b", ["i1", "i2"]) == {"i1": "other"}


async def test_record_nothing_writes_nothing(
    store: FeedStateStore, redis_client: aioredis.Redis, unique: str,
) -> None:
    await store.record_items("feed-a", {})
    assert await redis_client.exists(f"test:{unique}:feed:feed-a:items") == 0

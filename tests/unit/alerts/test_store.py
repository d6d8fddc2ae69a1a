"""Subscriptions, silences and sent-state in Redis: shared, expiring, refreshed live."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from wirewatch.alerts.matching import Decision, Sent, StoryView, match_story
from wirewatch.alerts.state import SentStore
from wirewatch.alerts.store import LiveSubscriptions, Silence, SubscriptionStore, silences_of
from wirewatch.alerts.subscriptions import Schedule, Subscription

NOW = datetime(2026, 1, 2, tzinfo=UTC)
STORY = StoryView(story_id="st", article_id="ar", title="OpenAI names new CEO",
                  url="https://e.example/a", source="E", topics=("leadership-change",),
                  entities=("openai",), is_duplicate=False)


def subscription(name: str = "OpenAI", **kwargs: object) -> Subscription:
    return Subscription.create(name=name, owner="ana", query="entity:openai", **kwargs)  # type: ignore[arg-type]


async def test_store_round_trips_every_field(redis_client: aioredis.Redis, unique: str) -> None:
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    original = subscription(channels=("console", "team-slack"), min_salience=0.7,
                            schedule=Schedule(mode="daily", at="07:30",
                                              timezone="Europe/Paris",
                                              quiet_hours=("22:00", "06:00"),
                                              rate_cap_per_hour=10),
                            update_after_outlets=None)
    assert await store.save(original) is True
    assert await store.save(original) is False  # replaced, not added
    assert await store.get("openai") == original
    assert [s.id for s in await store.list()] == ["openai"]
    assert await store.remove("openai") and await store.get("openai") is None


async def test_silences_expire(redis_client: aioredis.Redis, unique: str) -> None:
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    now = datetime.now(UTC)
    await store.mute("entity", "openai", now + timedelta(hours=1))
    await store.mute("story", "st", now - timedelta(seconds=1))  # already over
    active = await store.silences()
    assert list(active) == ["entity:openai"]
    assert silences_of(active).entities == {"openai"}
    assert silences_of({"source:Example Wire": 1.0}).sources == {"example wire"}
    assert await store.unmute("entity", "openai") and await store.silences() == {}


async def test_silences_keep_who_set_them_and_why(redis_client: aioredis.Redis,
                                                  unique: str) -> None:
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    now = datetime.now(UTC)
    await store.mute("entity", "openai", now + timedelta(hours=2), created_by="ana",
                     comment="board saga, too noisy", now=100.0)
    await store.mute("story", "st", now + timedelta(hours=1))
    # A silence written before notes were kept (a bare sorted-set member) still reads.
    await redis_client.zadd(store.mutes_key, {"subscription:old": (now + timedelta(hours=3))
                                              .timestamp()})
    listed = await store.silence_list()
    assert [(s.kind, s.value) for s in listed] == [("story", "st"), ("entity", "openai"),
                                                   ("subscription", "old")]  # soonest first
    assert listed[1] == Silence("entity", "openai", (now + timedelta(hours=2)).timestamp(),
                                "ana", "board saga, too noisy", 100.0)
    assert (listed[2].created_by, listed[2].comment, listed[2].created) == ("", "", None)
    # The workers' view is unchanged: the same "kind:value" -> end mapping.
    assert set(await store.silences()) == {"entity:openai", "story:st", "subscription:old"}

    # Muting again replaces the note; lifting or expiry drops it.
    await store.mute("entity", "openai", now + timedelta(hours=2), created_by="bo")
    assert [s.created_by for s in await store.silence_list() if s.value == "openai"] == ["bo"]
    assert await store.unmute("entity", "openai")
    assert not await redis_client.hexists(store.notes_key, "entity:openai")
    later = (now + timedelta(hours=1, minutes=1)).timestamp()
    assert [s.value for s in await store.silence_list(now=later)] == ["old"]
    assert not await redis_client.hexists(store.notes_key, "story:st")


async def test_removing_a_subscription_lifts_its_silence(redis_client: aioredis.Redis,
                                                         unique: str) -> None:
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    await store.save(subscription())
    await store.mute("subscription", "openai", datetime.now(UTC) + timedelta(hours=1),
                     comment="on leave")
    assert await store.remove("openai")
    assert await store.silence_list() == []
    assert await redis_client.hlen(store.notes_key) == 0


async def test_live_subscriptions_refresh_on_their_period(redis_client: aioredis.Redis,
                                                          unique: str) -> None:
    store = SubscriptionStore(redis_client, prefix=f"{unique}:")
    clock = [0.0]
    live = LiveSubscriptions(store, refresh_seconds=5, clock=lambda: clock[0])
    assert (await live.current())[0] == []
    await store.save(subscription())
    assert (await live.current())[0] == []  # not re-read before 5 s
    clock[0] = 5.0
    assert [s.id for s in (await live.current())[0]] == ["openai"]


async def test_sent_state_makes_copies_and_replays_quiet(redis_client: aioredis.Redis,
                                                         unique: str) -> None:
    sent_store = SentStore(redis_client, prefix=f"{unique}:")
    subs = [subscription(update_after_outlets=2)]
    first = match_story(STORY, subs, now=NOW)
    assert len(first) == 1
    await sent_store.record(first)
    told = await sent_store.load(["openai"], "st")
    assert told == {"openai": Sent(STORY.title, 1, 0, 1)}
    assert match_story(replace(STORY, article_id="copy", outlets=2), subs, now=NOW,
                       sent=told) == []
    update = match_story(replace(STORY, outlets=3), subs, now=NOW, sent=told)
    assert [d.alert.is_update for d in update] == [True]
    assert await sent_store.record(update) == update
    # Another worker deciding the same update a moment later loses the compare-and-set.
    assert await sent_store.record(update) == []
    assert (await sent_store.load(["openai"], "st"))["openai"] == Sent(STORY.title, 3, 1)
    stale: list[Decision] = first  # a late replay of the first copy cannot reset the state
    assert await sent_store.record(stale) == []

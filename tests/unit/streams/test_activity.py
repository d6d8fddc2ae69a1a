"""Dashboard activity: a batch of articles recorded in one call, read back newest first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from wirewatch.streams.ops.activity import KEEP, Activity
from wirewatch.streams.records import Article


def article(story: str, number: int, *, title: str = "", outlets: int = 1) -> Article:
    return Article(article_id=f"{story}-{number}", story_id=story, is_duplicate=outlets > 1,
                   duplicate_of=None, similarity=0.0, feed_id="f", source=f"Outlet {number}",
                   url=f"https://example.test/{story}/{number}", title=title or story.upper(),
                   text="", fetched_at=datetime(2026, 11, 28, tzinfo=UTC), outlets=outlets)


@pytest.mark.redis
async def test_a_batch_reads_back_newest_first_each_story_once(redis_client: aioredis.Redis,
                                                               unique: str) -> None:
    activity = Activity(redis_client, prefix=f"{unique}:")
    await activity.record_articles([article("s1", 1), article("s2", 1)])
    await activity.record_articles([article("s1", 2, title="Zoë’s “café” — 東京", outlets=2),
                                    article("s3", 1)])
    await activity.record_articles([])
    stories = await activity.recent_stories()
    assert [(s.story_id, s.outlets) for s in stories] == [("s3", 1), ("s1", 2), ("s2", 1)]
    assert stories[1].title == "Zoë’s “café” — 東京"  # the newest copy's fields, unicode intact
    assert (stories[1].source, stories[1].url) == ("Outlet 2", "https://example.test/s1/2")
    assert stories[0].at > 1.7e9


@pytest.mark.redis
async def test_a_batch_larger_than_the_stream_keeps_its_newest(redis_client: aioredis.Redis,
                                                               unique: str) -> None:
    activity = Activity(redis_client, prefix=f"{unique}:")
    await activity.record_articles([article(f"s{n}", 1) for n in range(KEEP + 50)])
    assert KEEP <= await redis_client.xlen(activity.stories_key) < KEEP + 50
    newest = await activity.recent_stories(limit=2)
    assert [s.story_id for s in newest] == [f"s{KEEP + 49}", f"s{KEEP + 48}"]

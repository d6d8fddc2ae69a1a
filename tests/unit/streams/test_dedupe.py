"""Exact dedupe: fingerprints, and story assignment in a real Redis, including under a race."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from streams.dedupe import ExactDedupe, StoryAssignment, fingerprints

BODY = ("OpenAI has disbanded the team it set up to steer and control future "
        "superintelligent systems, the company confirmed on Friday.")


@pytest.mark.parametrize(("url", "text", "kinds"), [
    ("https://a.example/1", BODY, ["url", "text"]),
    ("", BODY, ["text"]),
    ("https://a.example/1", "Too short to fingerprint at all", ["url"]),  # 6 words
    ("https://a.example/1", "one two three four five six seven", ["url"]),  # 7 words
    ("https://a.example/1", "one two three four five six seven eight", ["url", "text"]),
    ("", "", []),
])
def test_fingerprint_kinds(url: str, text: str, kinds: list[str]) -> None:
    assert [key.split(":")[0] for key in fingerprints(url, text)] == kinds


@pytest.mark.parametrize("variant", [
    BODY.upper(),
    BODY.replace(",", "").replace(".", "!"),
    "  " + BODY.replace(" ", "\n  ") + " ...",
    "\u201c" + BODY + "\u201d",
])
def test_text_key_ignores_case_punctuation_and_spacing(variant: str) -> None:
    assert fingerprints("", variant) == fingerprints("", BODY)


@pytest.mark.parametrize("variant", [
    BODY.replace("Friday", "Monday"),
    BODY + " More words.",
    BODY.replace("on Friday", "Friday on"),  # same words, different order
])
def test_text_key_changes_with_the_words(variant: str) -> None:
    assert fingerprints("", variant) != fingerprints("", BODY)


def test_url_key_is_exact() -> None:
    assert fingerprints("https://a.example/1", "") != fingerprints("https://a.example/1?x", "")
    assert fingerprints("https://a.example/1", "") == fingerprints("https://a.example/1", "")


@pytest.fixture
def dedupe(redis_client: aioredis.Redis, unique: str) -> ExactDedupe:
    return ExactDedupe(redis_client, prefix=f"{unique}:", window_seconds=600)


FOUNDER = StoryAssignment(story_id="a1", is_duplicate=False, duplicate_of=None, similarity=0.0)


@pytest.mark.redis
async def test_first_copy_founds_and_copies_join(dedupe: ExactDedupe) -> None:
    assert await dedupe.assign("a1", "https://wire.example/1", BODY) == FOUNDER
    # a syndicated copy: other outlet, other url, same words once chrome is gone
    copy = await dedupe.assign("a2", "https://brief.example/9", BODY.upper())
    assert copy == StoryAssignment(story_id="a1", is_duplicate=True, duplicate_of="a1",
                                   similarity=1.0)
    # same url, text too short for a text key: joins through the url
    assert (await dedupe.assign("a3", "https://wire.example/1", "Updated.")).story_id == "a1"
    # different text and url: a new story
    other = await dedupe.assign("b1", "https://wire.example/2", BODY.replace("Friday", "Monday"))
    assert other == StoryAssignment(story_id="b1", is_duplicate=False, duplicate_of=None,
                                    similarity=0.0)


@pytest.mark.redis
async def test_assign_is_idempotent_per_article(dedupe: ExactDedupe) -> None:
    first = await dedupe.assign("a1", "https://wire.example/1", BODY)
    copy = await dedupe.assign("a2", "", BODY)
    # replays (even with changed content) return the remembered answer
    assert await dedupe.assign("a1", "https://wire.example/1", BODY) == first
    assert await dedupe.assign("a1", "", "something else entirely, long enough to key") == first
    assert await dedupe.assign("a2", "", BODY) == copy
    assert copy.duplicate_of == "a1"


@pytest.mark.redis
async def test_short_text_without_url_never_merges(dedupe: ExactDedupe) -> None:
    first = await dedupe.assign("s1", "", "Breaking news")
    second = await dedupe.assign("s2", "", "Breaking news")
    assert (first.story_id, second.story_id) == ("s1", "s2")
    assert not second.is_duplicate


@pytest.mark.redis
async def test_prefixes_isolate_indexes(redis_client: aioredis.Redis, unique: str) -> None:
    one = ExactDedupe(redis_client, prefix=f"{unique}-1:", window_seconds=600)
    two = ExactDedupe(redis_client, prefix=f"{unique}-2:", window_seconds=600)
    assert (await one.assign("x", "", BODY)).story_id == "x"
    assert (await two.assign("y", "", BODY)).story_id == "y"


@pytest.mark.redis
async def test_keys_expire_with_the_window(redis_client: aioredis.Redis, unique: str) -> None:
    dedupe = ExactDedupe(redis_client, prefix=f"{unique}:", window_seconds=600)
    await dedupe.assign("a1", "https://wire.example/1", BODY)
    keys = [key async for key in redis_client.scan_iter(match=f"{unique}:*")]
    assert len(keys) == 3  # article, url and text
    for key in keys:
        assert 0 < await redis_client.ttl(key) <= 600


@pytest.mark.redis
@pytest.mark.parametrize("clients", [2, 4])
async def test_concurrent_copies_agree_on_one_story(
        redis_server: str, unique: str, clients: int) -> None:
    connections = [aioredis.Redis.from_url(redis_server) for _ in range(clients)]
    try:
        engines = [ExactDedupe(c, prefix=f"{unique}:", window_seconds=600) for c in connections]
        start = asyncio.Event()

        async def worker(index: int) -> StoryAssignment:
            await start.wait()
            return await engines[index % clients].assign(
                f"copy-{index}", f"https://outlet{index}.example/story", BODY)

        tasks = [asyncio.create_task(worker(i)) for i in range(20)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
    finally:
        for connection in connections:
            await connection.aclose()

    stories = {r.story_id for r in results}
    assert len(stories) == 1
    founders = [r for r in results if not r.is_duplicate]
    assert len(founders) == 1
    (story,) = stories
    assert founders[0].story_id == story
    assert all(r.duplicate_of == story for r in results if r.is_duplicate)

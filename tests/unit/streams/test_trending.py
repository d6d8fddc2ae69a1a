"""Trending entities: names rising over their 7-day baseline, and the entry "watch this" writes."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from wirewatch.streams.ops.trending import DAY, Trend, TrendCounter, rising, watch_entry
from wirewatch.streams.records import DiscoveredEntity

LEIKE = DiscoveredEntity(name="Jan Leike", type="person", mentions=2, salience=0.7)
BANK = DiscoveredEntity(name="Deutsche Bank", type="organization", mentions=1, salience=1.0,
                        company="deutsche-bank")


@pytest.mark.parametrize(("today", "before", "expected"), [
    pytest.param(3, [0] * 7, True, id="new-name-three-articles"),
    pytest.param(2, [0] * 7, False, id="new-name-too-few"),
    pytest.param(10, [2] * 7, True, id="rising-over-baseline"),
    pytest.param(10, [6] * 7, False, id="steady-name"),
])
def test_a_name_trends_when_it_rises_over_its_baseline(today: int, before: list[int],
                                                        expected: bool) -> None:
    field = "person\tJan Leike\t"
    found = rising({field: today}, [{field: n} for n in before])
    assert bool(found) is expected
    if expected:
        assert found[0].name == "Jan Leike" and found[0].type == "person"


def test_watch_this_prefills_the_entry() -> None:
    person = watch_entry(Trend("Jan Leike", "person", "", 5, 0.0, 6.0))
    assert (person.id, person.aliases, person.ambiguous_aliases) == (
        "jan-leike", ("Jan Leike",), ("Leike",))
    bank = watch_entry(Trend("Deutsche Bank", "organization", "deutsche-bank", 5, 0.0, 6.0))
    assert bank.id == "deutsche-bank" and "FRA:DBK" in bank.tickers


@pytest.mark.redis
async def test_counts_per_day_and_reads_back_what_rises(redis_client: aioredis.Redis,
                                                        unique: str) -> None:
    counter = TrendCounter(redis_client, prefix=f"{unique}:")
    now = 1_780_000_000.0
    for days_ago in range(1, 8):  # the bank is named every day; Leike never before today
        await counter.record([[BANK]], at=now - days_ago * DAY)
    await counter.record([[LEIKE, BANK], [LEIKE], [LEIKE, LEIKE]], at=now,
                         story_ids=["story-a", "story-b", "story-c"])
    await counter.record([], at=now)
    trends = await counter.trending(at=now)
    assert [(t.name, t.today, t.baseline) for t in trends] == [("Jan Leike", 3, 0.0)]
    assert trends[0].story_id == "story-c"  # the latest story naming it, for its link

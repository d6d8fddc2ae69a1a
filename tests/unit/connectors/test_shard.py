"""Feeds split over connector shards: every feed has exactly one owner, and growth moves few."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from wirewatch.connectors.shard import Shard, ShardError, owner_of, parse_shard

FEEDS = [f"feed-{n:05d}" for n in range(6000)]


@pytest.mark.parametrize(("text", "hostname", "expected"), [
    ("0/1", None, Shard(0, 1)), (" 2 / 3 ", None, Shard(2, 3)),
    ("ordinal/3", "wirewatch-connect-2", Shard(2, 3)),
    ("ordinal/4", "connect-10-0", Shard(0, 4)),
])
def test_parse_shard(text: str, hostname: str | None, expected: Shard) -> None:
    assert parse_shard(text, hostname) == expected


@pytest.mark.parametrize(("text", "hostname", "message"), [
    ("1", None, "is not I/N"), ("a/2", None, "is not I/N"), ("2/2", None, "outside 0..1"),
    ("0/0", None, "at least 1"), ("ordinal/3", "laptop", "has none"),
    ("ordinal/3", "connect-5", "outside 0..2"),
])
def test_bad_shards_say_why(text: str, hostname: str | None, message: str) -> None:
    with pytest.raises(ShardError, match=message):
        parse_shard(text, hostname)


def test_every_feed_has_exactly_one_owner_and_the_split_is_even() -> None:
    shards = [Shard(index, 3) for index in range(3)]
    owned = [shard.select(FEEDS, str) for shard in shards]
    assert sorted(feed for share in owned for feed in share) == sorted(FEEDS)
    for share in owned:  # 2,000 each on average; rendezvous hashing is within a few %
        assert 1800 < len(share) < 2200, [len(s) for s in owned]


def test_owners_are_the_same_in_every_process() -> None:
    # Two connectors must agree: the owner may not depend on PYTHONHASHSEED (str hash).
    script = ("from wirewatch.connectors.shard import owner_of; "
              "print([owner_of(f'feed-{n:05d}', 5) for n in range(200)])")
    answers = {subprocess.run([sys.executable, "-c", script], check=True, text=True,
                              capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed},
                              ).stdout for seed in ("1", "2")}
    assert answers == {str([owner_of(feed, 5) for feed in FEEDS[:200]]) + "\n"}
    assert Shard(0, 1).owns("anything") and Shard(0, 1).select(FEEDS, str) == FEEDS


def test_adding_a_shard_moves_only_the_feeds_the_new_shard_takes() -> None:
    before = {feed: owner_of(feed, 3) for feed in FEEDS}
    after = {feed: owner_of(feed, 4) for feed in FEEDS}
    moved = [feed for feed in FEEDS if before[feed] != after[feed]]
    assert all(after[feed] == 3 for feed in moved)  # nothing moves between old shards
    assert 0.20 < len(moved) / len(FEEDS) < 0.30  # about 1/4, where mod-N moves ~3/4

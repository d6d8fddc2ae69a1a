"""Which connector instance polls which feed: a stable split of the feeds over N shards.

A feed belongs to the shard with the highest hash of (shard, feed id), rendezvous hashing:
every instance computes the same answer with no coordination, and growing from N to N+1
shards moves only the feeds the new shard wins (about 1/(N+1) of them), where `hash mod N`
would move most feeds and reset their schedules' place in the cycle.
"""

from __future__ import annotations

import hashlib
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from wirewatch.connectors.errors import ConnectorError

_SPEC = re.compile(r"^\s*(?P<index>\d+|ordinal)\s*/\s*(?P<count>\d+)\s*$")
_ORDINAL = re.compile(r"-(\d+)$")  # a StatefulSet pod's hostname: wirewatch-connect-2

T = TypeVar("T")


class ShardError(ConnectorError, ValueError):
    """A shard setting that cannot be used; the message says why and what is expected."""


@dataclass(frozen=True)
class Shard:
    """This instance's share of the feeds: shard `index` of `count` (0-based)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ShardError(f"a shard count must be at least 1, not {self.count}")
        if not 0 <= self.index < self.count:
            raise ShardError(f"shard index {self.index} is outside 0..{self.count - 1}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, feed_id: str) -> bool:
        return self.count == 1 or owner_of(feed_id, self.count) == self.index

    def select(self, feeds: Iterable[T], feed_id: Callable[[T], str]) -> list[T]:
        """The feeds this shard polls, in their given order."""
        return [feed for feed in feeds if self.owns(feed_id(feed))]



def owner_of(feed_id: str, count: int) -> int:
    """The shard (0..count-1) that polls a feed: the highest rendezvous hash wins."""
    return max(range(count), key=lambda index: _weight(index, feed_id))


def _weight(index: int, feed_id: str) -> int:
    digest = hashlib.blake2b(f"{index}:{feed_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def parse_shard(text: str, hostname: str | None = None) -> Shard:
    """`I/N`, or `ordinal/N` for the index at the end of the hostname (a StatefulSet pod
    named wirewatch-connect-2 is shard 2)."""
    match = _SPEC.match(text)
    if match is None:
        raise ShardError(f"shard {text!r} is not I/N or ordinal/N (e.g. 0/3)")
    count = int(match["count"])
    if match["index"] != "ordinal":
        return Shard(int(match["index"]), count)
    host = hostname if hostname is not None else socket.gethostname()
    found = _ORDINAL.search(host)
    if found is None:
        raise ShardError(f"shard {text!r} takes the index from the hostname's trailing -N, "
                         f"but hostname {host!r} has none")
    return Shard(int(found[1]), count)

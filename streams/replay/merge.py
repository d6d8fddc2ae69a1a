"""Records of several partitions in time order, each partition's own order kept.

Partitions are read interleaved at random; replayed in that order, a later copy of a story
could found it. A record is released only when every partition still being read has shown
one at least as late (or has ended), so the stages see the items as they first came in.
"""

from __future__ import annotations

from collections import deque

from wirewatch.streams.replay.source import SourceRecord


class TimeMerge:
    def __init__(self, partitions: list[int]) -> None:
        self.buffers: dict[int, deque[SourceRecord]] = {p: deque() for p in partitions}
        self.reading = set(partitions)  # partitions that may still bring records

    def add(self, partition: int, records: list[SourceRecord], *, ended: bool) -> None:
        self.buffers[partition].extend(records)
        if ended:
            self.reading.discard(partition)

    def release(self, limit: int) -> list[SourceRecord]:
        """Up to `limit` records that no unread record can precede."""
        released: list[SourceRecord] = []
        buffers = self.buffers
        while len(released) < limit:
            if any(not buffers[p] for p in self.reading):
                break  # that partition's next record could be earlier than any buffered
            heads = [(buffer[0].timestamp_ms, p) for p, buffer in buffers.items() if buffer]
            if not heads:
                break
            released.append(buffers[min(heads)[1]].popleft())
        return released

    @property
    def buffered(self) -> int:
        return sum(len(buffer) for buffer in self.buffers.values())

    @property
    def drained(self) -> bool:
        return not self.reading and not any(self.buffers.values())

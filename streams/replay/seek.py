"""Where a time falls in a partition, found from the records' own timestamps.

ListOffsets by time (`offsets_for_times`) is wrong on the embedded broker: it answers with
the broker's write time per batch and ignores the records' CreateTime (BROKERS.md). So the
offset is found by bisection, reading the timestamp of one record per probe: about
log2(records) fetches per partition, the same answer on every broker. Timestamps only rise
roughly along a partition (each connector stamps records as it publishes), so callers
search from a little earlier (SLACK_MS) and then filter every record by its own time.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition

SLACK_MS = 5 * 60 * 1000


async def timestamp_at(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int, *,
                       timeout: float = 10.0) -> int | None:
    """The timestamp of the first record at or after `offset`; None when there is none."""
    consumer.seek(tp, offset)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batches = await consumer.getmany(tp, timeout_ms=500, max_records=1)
        for message in batches.get(tp, []):
            if message.offset >= offset:
                return int(message.timestamp)
        if consumer.highwater(tp) is not None and consumer.highwater(tp) <= offset:
            return None
    raise TimeoutError(f"no record from {tp.topic}[{tp.partition}] at offset {offset} in "
                       f"{timeout:.0f} s")


async def first_offset_at(consumer: AIOKafkaConsumer, tp: TopicPartition, moment_ms: int,
                          low: int, high: int) -> int:
    """The first offset in [low, high) whose record is stamped at or after `moment_ms`
    (`high` when none is), assuming timestamps rise along the partition."""
    if low < high:  # a window from before the oldest record (the usual backfill): one probe
        oldest = await timestamp_at(consumer, tp, low)
        if oldest is None:
            return high
        if oldest >= moment_ms:
            return low
        low += 1
    while low < high:
        middle = (low + high) // 2
        stamped = await timestamp_at(consumer, tp, middle)
        if stamped is None:
            high = middle
        elif stamped < moment_ms:
            low = middle + 1
        else:
            high = middle
    return low

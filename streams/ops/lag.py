"""Consumer lag and topic sizes, computed the same way on every broker.

Lag is the high-water mark minus the group's committed offset. The high-water mark comes
from a fetch response, not from ListOffsets: the embedded broker answers ListOffsets with
the first offset of the last batch plus one (BROKERS.md), so `end_offsets` alone would
undercount. We seek just before that answer and fetch once; the response carries the real
high-water mark on both brokers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    high_water: int
    committed: int | None  # None: the group never committed here

    @property
    def lag(self) -> int:
        return self.high_water - (self.committed or 0)


async def high_waters(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], *,
                      timeout: float = 5.0) -> dict[TopicPartition, int]:
    """The high-water mark of each partition, read from fetch responses."""
    ends = await consumer.end_offsets(partitions)
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, max(0, ends[tp] - 1))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(consumer.highwater(tp) is not None for tp in partitions):
            break
        await consumer.getmany(*partitions, timeout_ms=200, max_records=1)
    return {tp: max(consumer.highwater(tp) or 0, ends[tp]) for tp in partitions}


async def topic_partitions(admin: AIOKafkaAdminClient,
                           topics: list[str]) -> list[TopicPartition]:
    """Every partition of the topics, asked for by name (a metadata request for all topics
    answers differently by broker and protocol version)."""
    described = await admin.describe_topics(topics)
    return [TopicPartition(d["topic"], p["partition"]) for d in described
            if d["error_code"] == 0 for p in sorted(d["partitions"],
                                                    key=lambda p: p["partition"])]


async def measure(bootstrap: str, group: str, consumed: list[str], sized: list[str], *,
                  timeout: float = 5.0) -> tuple[list[PartitionLag], dict[str, int]]:
    """Lag of `group` on each partition of the `consumed` topics, and the number of records
    ever written to each of the `sized` topics."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=100, request_timeout_ms=int(timeout * 1000))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap,
                                request_timeout_ms=int(timeout * 1000))
    # Started inside the try: a start that fails (broker away) or is cancelled still closes
    # the client, else every monitor tick of an outage would leak one.
    try:
        await consumer.start()
        await admin.start()
        try:
            names = sorted(set(consumed) | set(sized))
            partitions = await topic_partitions(admin, names)
            waters = await high_waters(consumer, partitions, timeout=timeout)
            mine = [tp for tp in partitions if tp.topic in consumed]
            # Pass the partitions: the embedded broker drops the connection otherwise.
            committed = await asyncio.wait_for(admin.list_consumer_group_offsets(
                group, partitions=mine), timeout) if mine else {}
        finally:
            await admin.close()
    finally:
        await consumer.stop()
    lags = []
    for tp in mine:
        offset = committed.get(tp)
        lags.append(PartitionLag(tp.topic, tp.partition, waters[tp],
                                 offset.offset if offset is not None and offset.offset >= 0
                                 else None))
    sizes = {topic: sum(w for tp, w in waters.items() if tp.topic == topic) for topic in sized}
    return lags, sizes

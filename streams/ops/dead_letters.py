"""Read the dead-letter topic: the latest records, or one record by its place."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from wirewatch.streams.ops.lag import high_waters, topic_partitions


@dataclass(frozen=True)
class DeadRecord:
    partition: int
    offset: int
    timestamp: float
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def preview(self) -> str:
        """The first 200 bytes of the record, as text."""
        return (self.value or b"")[:200].decode("utf-8", "replace")

    @property
    def stage(self) -> str:
        return self.headers.get("stage", "")

    @property
    def channel(self) -> str:
        """The channel a delivery failed on (deliver-stage letters only)."""
        return self.headers.get("channel", "")

    @property
    def title(self) -> str:
        """The headline of the item, article or alert inside, if it has one."""
        try:
            document = json.loads(self.value or b"")
        except ValueError:
            return ""
        title = document.get("title") if isinstance(document, dict) else None
        return title if isinstance(title, str) else ""


def _record(message: object) -> DeadRecord:
    return DeadRecord(message.partition, message.offset,  # type: ignore[attr-defined]
                      message.timestamp / 1000, message.key,  # type: ignore[attr-defined]
                      message.value,  # type: ignore[attr-defined]
                      {k: v.decode("utf-8", "replace")
                       for k, v in message.headers or ()})  # type: ignore[attr-defined]


async def latest(bootstrap: str, topic: str, *, limit: int = 50,
                 timeout: float = 5.0) -> list[DeadRecord]:
    """Up to `limit` of the newest records per partition, newest first."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = await topic_partitions(admin, [topic])
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=100)
    await consumer.start()
    try:
        waters = await high_waters(consumer, partitions, timeout=timeout)
        wanted = {tp: w for tp, w in waters.items() if w > 0}
        for tp, water in wanted.items():
            consumer.seek(tp, max(0, water - limit))
        found: list[DeadRecord] = []
        deadline = time.monotonic() + timeout
        while wanted and time.monotonic() < deadline:
            batches = await consumer.getmany(*wanted, timeout_ms=200)
            for tp, messages in batches.items():
                found += [_record(m) for m in messages]
                if messages and messages[-1].offset + 1 >= wanted[tp]:
                    wanted.pop(tp, None)
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: (r.timestamp, r.offset), reverse=True)[:limit]


async def one(bootstrap: str, topic: str, partition: int, offset: int, *,
              timeout: float = 5.0) -> DeadRecord | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=100)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(tp, timeout_ms=200, max_records=1)
            for message in batches.get(tp, []):
                return _record(message) if message.offset == offset else None
    finally:
        await consumer.stop()
    return None

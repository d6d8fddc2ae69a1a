"""Restore archived records: produce them back into their own partitions of a topic."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import RecordMetadata
from wirewatch.streams.ops.lag import topic_partitions
from wirewatch.streams.replay.archive import ArchiveError
from wirewatch.streams.replay.archiver import existing_partitions
from wirewatch.streams.replay.source import SourceRecord

_SETTLE_EVERY = 2000  # records in flight before restore waits for their acks


@dataclass
class RestoreRun:
    records: int = 0
    moved: int = 0  # records that got another offset than the archived one
    created: bool = False  # the target topic did not exist and was created
    started: float = field(default_factory=time.monotonic)


async def restore_records(bootstrap: str, records: Iterable[SourceRecord], topic: str, *,
                          partitions: int, create_partitions: int, replication: int,
                          progress: Callable[[RestoreRun], None] = lambda run: None
                          ) -> RestoreRun:
    """Produce records to `topic` into their own partition with their key, value, headers
    and timestamp (acks=all; no idempotence: the embedded broker lacks it). A missing topic
    is created with `create_partitions`; an existing one needs at least `partitions`."""
    run = RestoreRun(created=await _ensure_topic(bootstrap, topic, partitions,
                                                 create_partitions, replication))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=False, linger_ms=10,
                                max_batch_size=1 << 20, request_timeout_ms=30000)
    await producer.start()
    try:
        in_flight: list[tuple[int, asyncio.Future[RecordMetadata]]] = []
        for record in records:
            in_flight.append((record.offset, await _send(producer, topic, record)))
            if len(in_flight) >= _SETTLE_EVERY:
                await _settle(in_flight, run)
                progress(run)
        await _settle(in_flight, run)
    finally:
        await producer.stop()
    return run


async def _send(producer: AIOKafkaProducer, topic: str,
                record: SourceRecord) -> asyncio.Future[RecordMetadata]:
    timestamp = record.timestamp_ms if record.timestamp_ms >= 0 else None
    if record.key is None and record.value is None:
        # send() refuses a record with neither key nor value; Kafka takes it in a batch.
        batch = producer.create_batch()
        batch.append(key=None, value=None, timestamp=timestamp, headers=list(record.headers))
        future: asyncio.Future[RecordMetadata] = await producer.send_batch(
            batch, topic, partition=record.partition)
        return future
    return await producer.send(topic, value=record.value, key=record.key,  # type: ignore[no-any-return]
                               partition=record.partition, timestamp_ms=timestamp,
                               headers=list(record.headers))


async def _settle(in_flight: list[tuple[int, asyncio.Future[RecordMetadata]]],
                  run: RestoreRun) -> None:
    acks = await asyncio.gather(*(future for _, future in in_flight))
    run.records += len(acks)
    run.moved += sum(ack.offset != offset for (offset, _), ack in zip(in_flight, acks,
                                                                     strict=True))
    in_flight.clear()


async def _ensure_topic(bootstrap: str, topic: str, partitions: int, create_partitions: int,
                        replication: int, timeout: float = 30.0) -> bool:
    """True if the topic had to be created (never left to broker auto-create)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = await existing_partitions(admin, topic)
        if existing:
            if len(existing) < partitions:
                raise ArchiveError(f"{topic} has {len(existing)} partitions but the archive "
                                   f"has records of partition {partitions - 1}; restore into "
                                   f"a topic with at least {partitions}")
            return False
        with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile: fine too
            await admin.create_topics([NewTopic(topic, create_partitions, replication)])
        deadline = time.monotonic() + timeout
        while len(await topic_partitions(admin, [topic])) < create_partitions:
            if time.monotonic() > deadline:
                raise ArchiveError(f"created {topic} but the broker does not show it yet")
            await asyncio.sleep(0.1)  # metadata of a new topic takes a moment to spread
        return True
    finally:
        await admin.close()

"""Archive a topic to disk: commit offsets only once their records are fsynced."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from wirewatch.streams.ops.lag import high_waters, topic_partitions
from wirewatch.streams.replay.archive import ArchiveError, ArchiveWriter, newest_records
from wirewatch.streams.replay.source import SourceRecord, from_consumer_record

log = logging.getLogger(__name__)


@dataclass
class ArchiveRun:
    """What an archiver has done: records written and fsynced, files, bytes."""

    records: int = 0
    pending: int = 0
    files: int = 0
    bytes: int = 0
    complete: bool = False  # --once: everything up to the high-water marks is archived
    started: float = field(default_factory=time.monotonic)

    def describe(self) -> str:
        rate = self.records / max(time.monotonic() - self.started, 1e-9)
        return (f"{self.records:,} records archived ({rate:,.0f}/s), {self.files} files, "
                f"{self.bytes / 1e6:,.1f} MB; {self.pending:,} buffered")


async def archive_topic(bootstrap: str, topic: str, writer: ArchiveWriter, *, group: str,
                        once: bool, flush_records: int = 5000, flush_seconds: float = 5.0,
                        stop: asyncio.Event | None = None,
                        progress: Callable[[ArchiveRun], None] = lambda run: None
                        ) -> ArchiveRun:
    """Archive `topic` with the consumer group `group`, committing offsets only once their
    records are fsynced. With `once`, stop at the high-water marks measured at start;
    otherwise run until `stop` is set. Either way, flush and commit before returning."""
    stop = stop or asyncio.Event()
    partitions = await _partitions(bootstrap, topic)
    if not partitions:
        raise ArchiveError(f"topic {topic!r} does not exist on {bootstrap}")
    # Assigned, not subscribed: the group only keeps our offsets, so a rebalance never
    # moves a partition (and its files) between two writers mid-flush.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=200, max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    try:
        ends = await high_waters(consumer, partitions)  # assigns the partitions too
        await _check_same_log(consumer, partitions, ends,
                              newest_records(writer.directory, topic), writer.directory)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        return await _archive_loop(consumer, writer, partitions, ends if once else None,
                                   flush_records, flush_seconds, stop, progress)
    finally:
        await consumer.stop()


async def _archive_loop(consumer: AIOKafkaConsumer, writer: ArchiveWriter,
                        partitions: list[TopicPartition], ends: dict[TopicPartition, int] | None,
                        flush_records: int, flush_seconds: float, stop: asyncio.Event,
                        progress: Callable[[ArchiveRun], None]) -> ArchiveRun:
    run = ArchiveRun()
    todo = [tp for tp in partitions if ends is None or await consumer.position(tp) < ends[tp]]
    consumer.pause(*[tp for tp in partitions if tp not in todo])  # archived to the end
    to_commit: dict[TopicPartition, int] = {}
    flushed_at = time.monotonic()
    while todo and not stop.is_set():
        batches = await consumer.getmany(*todo, timeout_ms=500)
        for tp, messages in batches.items():
            for message in messages:
                if ends is not None and message.offset >= ends[tp]:
                    break
                writer.add(from_consumer_record(message))
                to_commit[tp] = message.offset + 1
        if ends is not None:
            done = [tp for tp in todo if await consumer.position(tp) >= ends[tp]]
            consumer.pause(*done)
            todo = [tp for tp in todo if tp not in done]
        if writer.pending >= flush_records or time.monotonic() - flushed_at >= flush_seconds:
            await _flush(consumer, writer, to_commit, run)
            flushed_at = time.monotonic()
        run.pending = writer.pending
        progress(run)
    await _flush(consumer, writer, to_commit, run)
    run.complete = ends is not None and not todo
    return run


async def _flush(consumer: AIOKafkaConsumer, writer: ArchiveWriter,
                 to_commit: dict[TopicPartition, int], run: ArchiveRun) -> None:
    """Write and fsync, then commit: a crash in between repeats records, never loses one."""
    if writer.pending:
        # In a thread: compression and fsync take a while, and the fetcher keeps
        # prefetching meanwhile.
        run.records += await asyncio.to_thread(writer.flush)
    if to_commit:
        await consumer.commit(dict(to_commit))
        to_commit.clear()
    run.files, run.bytes, run.pending = len(writer.touched), writer.bytes_written, 0


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        return await existing_partitions(admin, topic)
    finally:
        await admin.close()


async def existing_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    """The topic's partitions; [] if it does not exist. Asking for a missing topic by name
    would create it on the embedded broker (aiokafka's metadata request allows auto-create)."""
    if topic not in await admin.list_topics():
        return []
    return await topic_partitions(admin, [topic])


async def _check_same_log(consumer: AIOKafkaConsumer, partitions: list[TopicPartition],
                          ends: dict[TopicPartition, int], newest: dict[int, SourceRecord],
                          directory: Path) -> None:
    """Refuse a topic whose offsets began again (an embedded broker forgets its topics on
    restart): its new records would reuse archived offsets and be dropped as repeats."""
    starts = await consumer.beginning_offsets(partitions)
    for tp in partitions:
        sample = newest.get(tp.partition)
        if sample is None or sample.offset < starts[tp]:
            continue  # nothing archived yet, or retention has deleted it from Kafka since
        if sample.offset < ends[tp]:
            consumer.seek(tp, sample.offset)
            found = await _record_at(consumer, tp)
            if found is None or found.offset != sample.offset:
                log.warning("could not read %s[%d] offset %d to compare it with the archive",
                            tp.topic, tp.partition, sample.offset)
                continue
            if from_consumer_record(found) == sample:
                continue
            differs = "holds a different record there"
        else:
            differs = f"has only {ends[tp]:,} records"
        raise ArchiveError(
            f"{tp.topic} partition {tp.partition} is not the log archived in {directory}: the "
            f"archive holds offset {sample.offset} but Kafka {differs}. The broker lost the "
            "topic (an embedded broker restart?). Restore it first (`wirewatch archive "
            "restore`) before anything new is written to it, or archive into another --dir.")


async def _record_at(consumer: AIOKafkaConsumer, tp: TopicPartition,
                     timeout: float = 10.0) -> ConsumerRecord[bytes, bytes] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = await consumer.getmany(tp, timeout_ms=500, max_records=1)
        if batch.get(tp):
            return batch[tp][0]
    return None

"""`wirewatch archive`: keep a topic's history on disk beyond Kafka's retention, and
`wirewatch archive restore`: produce it back (the embedded broker forgets it on restart)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.structs import ConsumerRecord, RecordMetadata
from pydantic import ValidationError

from streams.embedded import EmbeddedServiceError, embedded_services
from streams.ops.lag import high_waters, topic_partitions
from streams.replay.archive import (
    ArchiveError,
    ArchiveWriter,
    archive_files,
    newest_records,
    read_archive,
)
from streams.replay.source import SourceRecord, from_consumer_record
from streams.replay.window import MomentError, parse_moment, to_ms
from streams.settings import Settings
from streams.topics import TopicNames

log = logging.getLogger(__name__)
T = TypeVar("T")
_SETTLE_EVERY = 2000  # records in flight before restore waits for their acks


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
        return await _existing_partitions(admin, topic)
    finally:
        await admin.close()


async def _existing_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
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
        existing = await _existing_partitions(admin, topic)
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


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc


@contextlib.contextmanager
def _kafka(settings: Settings) -> Iterator[str]:
    """The configured Kafka, or the embedded broker of a wirewatch running on this data dir."""
    if settings.kafka_bootstrap:
        yield settings.kafka_bootstrap
        return
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    with embedded_services(None, redis_url, settings.data_dir) as ends:
        if ends.embedded_kafka:  # a broker of our own would be empty
            raise click.ClickException(
                "no Kafka to talk to: set WIREWATCH_KAFKA_BOOTSTRAP, or start `wirewatch run` "
                f"on this data dir ({settings.data_dir}) to use its embedded broker")
        yield ends.kafka_bootstrap


def _until_signalled(work: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run `work(stop)`; SIGINT and SIGTERM set `stop`, so it can flush and commit first."""
    async def main() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await work(stop)

    return asyncio.run(main())


class _Every:
    """Call `show` at most once per `seconds` (progress lines on stderr)."""

    def __init__(self, seconds: float, show: Callable[[Any], str]) -> None:
        self.seconds, self.show, self.shown_at = seconds, show, time.monotonic()

    def __call__(self, run: object) -> None:
        if time.monotonic() - self.shown_at >= self.seconds:
            self.shown_at = time.monotonic()
            click.echo(self.show(run), err=True)


_USER_ERRORS = (ArchiveError, KafkaError, EmbeddedServiceError, OSError)


@click.group(invoke_without_command=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path, file_okay=False),
              help="Archive directory (created if missing).")
@click.option("--topic", default=None, help="Topic to archive. Default: the raw topic "
              "(news.raw.v1 after WIREWATCH_TOPIC_PREFIX).")
@click.option("--once", is_flag=True, help="Archive up to the high-water marks measured at "
              "start, then exit (for cron and tests).")
@click.option("--group", default=None, help="Consumer group keeping the archiver's offsets. "
              "Default: <app_id>-archive.")
@click.option("--flush-records", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Write and commit after this many records...")
@click.option("--flush-seconds", type=click.FloatRange(min=0.1), default=5.0,
              show_default=True, help="...or after this many seconds, whichever comes first.")
@click.pass_context
def archive(ctx: click.Context, directory: Path | None, topic: str | None, once: bool,
            group: str | None, flush_records: int, flush_seconds: float) -> None:
    """Archive a topic to DIR/<topic>/<YYYY-MM-DD>/<HH>.p<partition>.jsonl.gz, beyond Kafka's
    retention (`archive restore` produces it back). Runs until Ctrl-C or SIGTERM."""
    if ctx.invoked_subcommand is not None:
        if directory or topic or once or group:
            raise click.UsageError(f"write the options after `{ctx.invoked_subcommand}`")
        return
    if directory is None:
        raise click.UsageError("say where to archive: --dir DIR")
    settings = _settings()
    topic = topic or TopicNames.with_prefix(settings.topic_prefix).raw
    group = group or f"{settings.app_id}-archive"
    try:
        with ArchiveWriter(directory, topic) as writer, _kafka(settings) as bootstrap:
            click.echo(f"archiving {topic} from {bootstrap} into {directory / topic} (group "
                       f"{group}); {'up to its current end' if once else 'Ctrl-C stops'}",
                       err=True)
            run = _until_signalled(lambda stop: archive_topic(
                bootstrap, topic, writer, group=group, once=once, flush_records=flush_records,
                flush_seconds=flush_seconds, stop=stop,
                progress=_Every(5.0, ArchiveRun.describe)))
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"archived {run.records:,} records of {topic} into {directory / topic} "
               f"({run.files} files written to)")
    if once and not run.complete:
        click.echo("stopped before the end; run again to continue", err=True)
        sys.exit(130)


def _moment(text: str | None, option: str, now: datetime) -> int | None:
    if text is None:
        return None
    try:
        return to_ms(parse_moment(text, now))
    except MomentError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


@archive.command("restore")
@click.option("--dir", "directory", required=True,
              type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Archive directory written by `wirewatch archive`.")
@click.option("--topic", default=None, help="Archived topic. Default: the raw topic.")
@click.option("--to-topic", default=None, help="Topic to produce to (created if missing). "
              "Default: the archived topic itself.")
@click.option("--from", "start", default=None, help="Only records from this time: ISO time "
              "(UTC unless it has an offset), a date, or an age such as 7d.")
@click.option("--to", "end", default=None, help="Only records before this time.")
@click.option("--dry-run", is_flag=True, help="Count what would be restored; produce nothing.")
def restore(directory: Path, topic: str | None, to_topic: str | None, start: str | None,
            end: str | None, dry_run: bool) -> None:
    """Produce archived records back to Kafka, each into its own partition with the same
    key, value, headers and timestamp."""
    settings = _settings()
    topic = topic or TopicNames.with_prefix(settings.topic_prefix).raw
    to_topic = to_topic or topic
    now = datetime.now(UTC)
    start_ms, end_ms = _moment(start, "--from", now), _moment(end, "--to", now)
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    files = archive_files(directory, topic, start_ms, end_ms)
    if not files:
        raise click.ClickException(f"nothing archived of {topic} under {directory}"
                                   f"{' in that window' if start or end else ''}")
    records = read_archive(directory, topic, start_ms, end_ms)
    if dry_run:
        counts = Counter(record.partition for record in records)
        click.echo(f"would restore {sum(counts.values()):,} records of {topic} to {to_topic} "
                   f"(per partition: {dict(sorted(counts.items()))})")
        return
    needed = max(f.partition for f in files) + 1
    try:
        with _kafka(settings) as bootstrap:
            run = asyncio.run(restore_records(
                bootstrap, records, to_topic, partitions=needed,
                create_partitions=max(needed, settings.topic_partitions),
                replication=settings.topic_replication,
                progress=_Every(5.0, lambda r: f"{r.records:,} records restored")))
    except _USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    created = " (created it)" if run.created else ""
    click.echo(f"restored {run.records:,} records of {topic} from {directory} to "
               f"{to_topic}{created}")
    if run.moved:
        click.echo(f"note: {run.moved:,} records got other offsets than in the archive (the "
                   "topic was not empty, or the archive has gaps)"
                   + ("; `wirewatch archive` will refuse to go on archiving it into "
                      f"{directory}" if to_topic == topic else ""), err=True)

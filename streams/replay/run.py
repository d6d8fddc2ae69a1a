"""Run a replay: read the window from Kafka (or the archive), feed the engine in batches,
show progress, honour a rate limit, stop cleanly on request and keep a checkpoint.

Kafka is read by a consumer of its own with no group: nothing is committed and the live
worker's offsets and partitions are untouched. The checkpoint (plan, next offset per
partition, report so far) is rewritten every five seconds and at the end, so
`--resume` continues where an interrupted run stopped and processes every record once.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.state import SentStore
from wirewatch.alerts.store import SubscriptionStore, silences_of
from wirewatch.streams import native
from wirewatch.streams.dedupe.engine import NearDupEngine
from wirewatch.streams.dedupe.index import RedisStoryIndex
from wirewatch.streams.events.engine import EventEngine
from wirewatch.streams.events.index import RedisEventIndex
from wirewatch.streams.ops.lag import high_waters
from wirewatch.streams.replay.archiver import existing_partitions
from wirewatch.streams.replay.dedupe import LayeredIndex
from wirewatch.streams.replay.engine import Delivery, Replayer, Window
from wirewatch.streams.replay.events import LayeredEventIndex
from wirewatch.streams.replay.merge import TimeMerge
from wirewatch.streams.replay.report import Report
from wirewatch.streams.replay.seek import SLACK_MS, first_offset_at
from wirewatch.streams.replay.source import SourceRecord, from_consumer_record
from wirewatch.streams.replay.window import to_ms
from wirewatch.streams.tagging.reload import TaggerSource

log = logging.getLogger(__name__)
BATCH = 2000
CHECKPOINT_EVERY_SECONDS = 5.0


@dataclass
class ReplayPlan:
    """What was asked: kept in the checkpoint, so --resume needs nothing else."""

    run_id: str
    start: str  # ISO time
    end: str | None = None
    topic: str = "news.raw.v1"
    archive: str | None = None  # read this archive directory instead of Kafka
    feeds: list[str] = field(default_factory=list)
    subscriptions: list[str] = field(default_factory=list)
    deliver: bool = False
    rate: float | None = None  # records per second at most

    @property
    def window(self) -> Window:
        return Window(to_ms(datetime.fromisoformat(self.start)),
                      to_ms(datetime.fromisoformat(self.end)) if self.end else None,
                      frozenset(self.feeds))


@dataclass(frozen=True)
class Services:
    kafka_bootstrap: str
    redis_url: str
    redis_prefix: str
    tagger: TaggerSource
    dedupe_window_seconds: float
    ledger_days: float
    out_dir: Path  # checkpoint and report go here
    event_window_seconds: float = 72 * 3600


@dataclass
class Checkpoint:
    plan: ReplayPlan
    next_offsets: dict[int, int]  # partition -> next offset to read
    end_offsets: dict[int, int]  # partition -> where the window ends
    report: Report
    done: int = 0
    total: int | None = None

    def save(self, path: Path) -> None:
        document = {"plan": asdict(self.plan), "next_offsets": self.next_offsets,
                    "end_offsets": self.end_offsets, "report": self.report.to_json(),
                    "done": self.done, "total": self.total}
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document))
        os.replace(temporary, path)  # a crash mid-write leaves the previous checkpoint

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        document = json.loads(path.read_text())
        return cls(plan=ReplayPlan(**document["plan"]),
                   next_offsets={int(k): v for k, v in document["next_offsets"].items()},
                   end_offsets={int(k): v for k, v in document["end_offsets"].items()},
                   report=Report.from_json(document["report"]), done=document["done"],
                   total=document["total"])


Progress = Callable[[int, int | None], None]  # records done, records in all (None: unknown)


def checkpoint_path(out_dir: Path) -> Path:
    return out_dir / "checkpoint.json"


def write_report(report: Report, out_dir: Path) -> dict[str, Path]:
    """report.json, report.md and matches.csv in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md",
             "csv": out_dir / "matches.csv"}
    paths["json"].write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    paths["markdown"].write_text(report.to_markdown())
    paths["csv"].write_text(report.to_csv())
    return paths


async def _kafka_window(consumer: AIOKafkaConsumer, bootstrap: str, plan: ReplayPlan,
                        ) -> tuple[dict[int, int], dict[int, int]]:
    """Start and end offset per partition of the plan's window, from record timestamps."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = await existing_partitions(admin, plan.topic)  # never creates it
    finally:
        await admin.close()
    if not partitions:
        raise ReplayError(f"topic {plan.topic!r} does not exist on {bootstrap}")
    waters = await high_waters(consumer, partitions)
    beginnings = await consumer.beginning_offsets(partitions)
    window = plan.window
    starts, ends = {}, {}
    for tp in partitions:
        low, high = beginnings[tp], waters[tp]
        starts[tp.partition] = await first_offset_at(consumer, tp, window.start_ms - SLACK_MS,
                                                     low, high)
        ends[tp.partition] = high if window.end_ms is None else await first_offset_at(
            consumer, tp, window.end_ms + SLACK_MS, starts[tp.partition], high)
    return starts, ends


class ReplayError(Exception):
    """A replay that cannot start; the message says why."""


async def _from_kafka(consumer: AIOKafkaConsumer, topic: str, checkpoint: Checkpoint,
                      batch_size: int) -> AsyncIterator[list[SourceRecord]]:
    """Batches of the window's records, merged across partitions in time order."""
    wanted = {TopicPartition(topic, p): end for p, end in checkpoint.end_offsets.items()
              if checkpoint.next_offsets.get(p, end) < end}
    merge = TimeMerge([tp.partition for tp in wanted])
    enough = max(1, batch_size // max(1, len(wanted)))  # per partition, before releasing
    consumer.assign(list(wanted))
    for tp in wanted:
        consumer.seek(tp, checkpoint.next_offsets[tp.partition])
    while not merge.drained:
        # Fill every partition's buffer to a share of a batch before releasing: the merge
        # stops at the first empty buffer, and small batches would cost a Redis round trip
        # per few records. Partitions with a full buffer are not fetched (bounded memory).
        timeout_ms = 1000
        while True:
            starving = any(len(merge.buffers[p]) < enough for p in merge.reading)
            hungry = [tp for tp in wanted if tp.partition in merge.reading
                      and len(merge.buffers[tp.partition]) < batch_size]
            if not hungry or not starving:
                break
            batches = await consumer.getmany(*hungry, timeout_ms=timeout_ms,
                                             max_records=batch_size)
            if not batches:
                for tp in hungry:  # past its end without a record at the end (a marker)?
                    if await consumer.position(tp) >= wanted[tp]:
                        merge.add(tp.partition, [], ended=True)
                timeout_ms = 1000  # nothing can be released until the starving answer
                continue
            for tp, messages in batches.items():
                end = wanted[tp]
                merge.add(tp.partition, [from_consumer_record(m) for m in messages
                                         if m.offset < end],
                          ended=bool(messages) and messages[-1].offset + 1 >= end)
            timeout_ms = 0  # then take only what has arrived already
        while released := merge.release(batch_size):
            yield released


def _from_archive(directory: Path, plan: ReplayPlan, checkpoint: Checkpoint,
                  batch_size: int) -> Iterator[list[SourceRecord]]:
    from wirewatch.streams.replay.archive import read_archive  # only archive replays need it

    window = plan.window
    batch: list[SourceRecord] = []
    # The reader interleaves partitions by time and keeps each partition in offset order.
    for record in read_archive(directory, plan.topic, window.start_ms, window.end_ms):
        if record.offset < checkpoint.next_offsets.get(record.partition, 0):
            continue  # processed before the run was interrupted
        batch.append(record)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _delete_scratch(client: aioredis.Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 1000):
        await client.unlink(*keys[start:start + 1000])


async def run_replay(plan: ReplayPlan, services: Services, *, stop: asyncio.Event,
                     progress: Progress = lambda done, total: None,
                     resume: Checkpoint | None = None, batch_size: int = BATCH) -> Report:
    """Replay the plan's window; returns the report (complete unless stopped)."""
    began = time.monotonic()  # the run's wall-clock includes its set-up: seeking the window
    native.warn_if_missing(log)
    out_dir = services.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    client = aioredis.Redis.from_url(services.redis_url)
    consumer: AIOKafkaConsumer | None = None
    scratch_prefix = f"{services.redis_prefix}replay:{plan.run_id}:"
    try:
        store = SubscriptionStore(client, prefix=services.redis_prefix)
        subscriptions = [s for s in await store.list()
                         if not plan.subscriptions or s.id in plan.subscriptions]
        missing = sorted(set(plan.subscriptions) - {s.id for s in subscriptions})
        if missing:
            raise ReplayError(f"no subscription(s) {missing}; `wirewatch subscriptions list` "
                              "shows them")
        report = resume.report if resume else Report(
            run_id=plan.run_id, mode="deliver" if plan.deliver else "dry-run",
            source=f"archive {plan.archive}" if plan.archive else f"kafka {plan.topic}",
            window={"from": plan.start, "to": plan.end},
            filters={"feeds": plan.feeds, "subscriptions": plan.subscriptions})
        report.subscriptions = {s.id: s.name for s in subscriptions}
        delivery = Delivery(Outbox(client, prefix=services.redis_prefix,
                                   ledger_days=services.ledger_days),
                            silences_of(await store.silences())) if plan.deliver else None
        engine = NearDupEngine(LayeredIndex(
            RedisStoryIndex(client, prefix=services.redis_prefix,
                            window_seconds=services.dedupe_window_seconds),
            RedisStoryIndex(client, prefix=scratch_prefix,
                            window_seconds=services.dedupe_window_seconds)))
        events = EventEngine(LayeredEventIndex(
            RedisEventIndex(client, prefix=services.redis_prefix,
                            window_seconds=services.event_window_seconds),
            RedisEventIndex(client, prefix=scratch_prefix,
                            window_seconds=services.event_window_seconds)))
        replayer = Replayer(engine=engine, events=events,
                            tagger=lambda: services.tagger.current(),
                            subscriptions=subscriptions, window=plan.window, report=report,
                            sent_store=SentStore(client, prefix=services.redis_prefix,
                                                 ttl_days=services.ledger_days),
                            delivery=delivery)
        checkpoint = resume
        batches: AsyncIterator[list[SourceRecord]] | Iterator[list[SourceRecord]]
        if plan.archive:
            checkpoint = checkpoint or Checkpoint(plan, {}, {}, report)
            batches = _from_archive(Path(plan.archive), plan, checkpoint, batch_size)
        else:
            consumer = AIOKafkaConsumer(bootstrap_servers=services.kafka_bootstrap,
                                        group_id=None, enable_auto_commit=False,
                                        fetch_max_wait_ms=100, max_poll_records=batch_size)
            await consumer.start()
            if checkpoint is None:
                starts, ends = await _kafka_window(consumer, services.kafka_bootstrap, plan)
                checkpoint = Checkpoint(plan, starts, ends, report,
                                        total=sum(ends[p] - starts[p] for p in ends))
            batches = _from_kafka(consumer, plan.topic, checkpoint, batch_size)
        started, saved_at, done_here = time.monotonic(), 0.0, 0
        elapsed_before = report.elapsed_seconds
        # Everything loaded so far (tagger tables, subscriptions, clients, modules) lives as
        # long as the run: frozen, the cyclic GC stops re-scanning it on every full
        # collection, which the run's growing state (stories, matches) keeps triggering.
        gc.freeze()
        progress(checkpoint.done, checkpoint.total)
        async for batch in _aiter(batches):
            await replayer.process(batch)
            for record in batch:
                checkpoint.next_offsets[record.partition] = record.offset + 1
            checkpoint.done += len(batch)
            done_here += len(batch)
            _clock(report, elapsed_before, began, done_here)
            progress(checkpoint.done, checkpoint.total)
            if time.monotonic() - saved_at >= CHECKPOINT_EVERY_SECONDS:
                checkpoint.save(checkpoint_path(out_dir))
                saved_at = time.monotonic()
            if plan.rate:  # hold back until the rate allows the next batch (or a stop)
                ahead = done_here / plan.rate - (time.monotonic() - started)
                if ahead > 0:
                    try:
                        await asyncio.wait_for(stop.wait(), ahead)
                    except TimeoutError:
                        pass
            if stop.is_set():
                break
        report.complete = not stop.is_set()
        _clock(report, elapsed_before, began, done_here)
        checkpoint.save(checkpoint_path(out_dir))
        if report.complete:
            await _delete_scratch(client, scratch_prefix)
        return report
    finally:
        gc.unfreeze()
        if consumer is not None:
            await consumer.stop()
        await client.aclose()


def _clock(report: Report, elapsed_before: float, began: float, records: int) -> None:
    """The run's wall-clock so far into the report, and the total over resumed runs."""
    report.run_seconds = time.monotonic() - began
    report.run_records = records
    report.elapsed_seconds = elapsed_before + report.run_seconds


async def _aiter(batches: AsyncIterator[list[SourceRecord]] | Iterator[list[SourceRecord]],
                 ) -> AsyncIterator[list[SourceRecord]]:
    if isinstance(batches, Iterator):
        for batch in batches:
            yield batch
    else:
        async for batch in batches:
            yield batch

"""`wirewatch archive` on the session's broker: byte-for-byte round trip, --once and its
commits, a clean stop on SIGTERM, repeats read once, a recreated topic refused, restore."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from click.testing import CliRunner
from wirewatch.streams.ops.lag import topic_partitions
from wirewatch.streams.replay.archive import (
    HOUR_MS,
    ArchiveError,
    ArchiveWriter,
    archive_files,
    hour_of,
)
from wirewatch.streams.replay.archive import read_archive as read_archive_lazily
from wirewatch.streams.replay.archiver import archive_topic
from wirewatch.streams.replay.source import SourceRecord, from_consumer_record

from tests.support.processes import wirewatch_env
from wirewatch.cli.archive import archive

pytestmark = [pytest.mark.kafka]

# Three hours ending an hour ago: inside any broker's retention, never "in the future".
T0 = hour_of(int(time.time() * 1000)) - 4 * HOUR_MS
ARCHIVER = "from wirewatch.cli.archive import archive; archive(prog_name='wirewatch archive')"


def sends(count: int, partitions: int, seed: int = 0) -> list[dict[str, Any]]:
    """Records of every shape: null, empty and binary keys; null, binary and ~3 KB values;
    binary and repeated headers; timestamps spread over 3 hours, back and forth."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        headers = [("feed_id", f"feed-{n % 4}".encode()), ("raw", bytes([n % 256, 0, 255]))]
        if n % 3 == 0:
            headers.append(("feed_id", b"repeated name"))
        made.append({
            "partition": n % partitions,
            "key": [None, b"", bytes(range(256)), f"item-{n}".encode()][n % 4],
            "value": None if n % 11 == 0 else rng.randbytes(3000) if n % 2 else b"{}",
            "headers": headers if n % 5 else [],
            "timestamp_ms": T0 + ((n // partitions) % 3) * HOUR_MS + n * 1000,
        })
    return made


async def produce(broker: Any, topic: str, records: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all",
                                enable_idempotence=broker.idempotent)
    await producer.start()
    try:
        await asyncio.gather(*[await _send(producer, topic, r) for r in records])
    finally:
        await producer.stop()


async def _send(producer: AIOKafkaProducer, topic: str, record: dict[str, Any]) -> Any:
    if record["key"] is None and record["value"] is None:  # send() refuses; Kafka does not
        batch = producer.create_batch()
        batch.append(key=None, value=None, timestamp=record["timestamp_ms"],
                     headers=record["headers"])
        return await producer.send_batch(batch, topic, partition=record["partition"])
    return await producer.send(topic, **record)


async def read_all(bootstrap: str, topic: str, expected: int,
                   timeout: float = 30.0) -> list[SourceRecord]:
    """The topic's records in (partition, offset) order; fails on fewer or more."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[SourceRecord] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                found += [from_consumer_record(m) for ms in batch.values() for m in ms]
        extra = await consumer.getmany(timeout_ms=1000)
        found += [from_consumer_record(m) for ms in extra.values() for m in ms]
    finally:
        await consumer.stop()
    assert len(found) == expected
    return sorted(found, key=lambda r: (r.partition, r.offset))


def read_archive(directory: Path, topic: str, **window: int) -> list[SourceRecord]:
    return list(read_archive_lazily(directory, topic, **window))


def by_offset(records: list[SourceRecord]) -> list[SourceRecord]:
    return sorted(records, key=lambda r: (r.partition, r.offset))


def lines_on_disk(directory: Path, topic: str) -> int:
    import gzip

    return sum(len(gzip.decompress(f.path.read_bytes()).splitlines())
               for f in archive_files(directory, topic))


async def committed(broker: Any, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        partitions = await topic_partitions(admin, [topic])
        offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def env_for(broker: Any, unique: str, tmp_path: Path) -> dict[str, str]:
    return wirewatch_env(WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap,
                         WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=unique,
                         WIREWATCH_DATA_DIR=str(tmp_path / "data"))


async def archiver(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", ARCHIVER, *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)


async def run_archiver(env: dict[str, str], *args: str,
                       timeout: float = 120.0) -> tuple[int, str, str]:
    process = await archiver(env, *args)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_archive_once_round_trips_every_record_byte_for_byte(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=3, prefix=f"{unique}.")
    produced = sends(150, partitions=3)
    await produce(broker, topics.raw, produced)
    in_kafka = await read_all(broker.bootstrap, topics.raw, expected=150)
    # The test's own premise: Kafka kept what was sent, byte for byte.
    assert Counter((r.key, r.value, r.headers, r.timestamp_ms) for r in in_kafka) == Counter(
        (s["key"], s["value"], tuple(s["headers"]), s["timestamp_ms"]) for s in produced)

    # Defaults: the raw topic under the configured prefix, group <app_id>-archive.
    code, out, err = await run_archiver(env_for(broker, unique, tmp_path), "--dir",
                                        str(tmp_path / "archive"), "--once")
    assert code == 0, err
    assert f"archived 150 records of {topics.raw}" in out and "Traceback" not in err

    archived = read_archive(tmp_path / "archive", topics.raw)
    assert by_offset(archived) == in_kafka  # partition, offset, timestamp, key, value, headers
    for partition in range(3):
        offsets = [r.offset for r in archived if r.partition == partition]
        assert offsets == sorted(offsets) == list(range(50))
    files = archive_files(tmp_path / "archive", topics.raw)
    assert sorted((f.hour_start_ms, f.partition) for f in files) == [
        (T0 + h * HOUR_MS, p) for h in range(3) for p in range(3)]
    assert await committed(broker, f"{unique}-archive", topics.raw) == {0: 50, 1: 50, 2: 50}


async def test_the_next_once_run_continues_from_the_commits(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=2, prefix=f"{unique}.")
    env, directory = env_for(broker, unique, tmp_path), str(tmp_path / "archive")
    await produce(broker, topics.raw, sends(60, partitions=2))
    assert (await run_archiver(env, "--dir", directory, "--once"))[0] == 0
    await produce(broker, topics.raw, sends(30, partitions=2, seed=1))
    code, out, err = await run_archiver(env, "--dir", directory, "--once")
    assert code == 0, err
    assert "archived 30 records" in out
    code, out, _ = await run_archiver(env, "--dir", directory, "--once")
    assert code == 0 and "archived 0 records" in out

    in_kafka = await read_all(broker.bootstrap, topics.raw, expected=90)
    assert by_offset(read_archive(tmp_path / "archive", topics.raw)) == in_kafka
    assert lines_on_disk(tmp_path / "archive", topics.raw) == 90  # nothing archived twice
    assert await committed(broker, f"{unique}-archive", topics.raw) == {0: 45, 1: 45}


async def test_once_stops_at_the_high_water_marks_of_its_start(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=2, prefix=f"{unique}.")
    await produce(broker, topics.raw, sends(40, partitions=2))
    stop_producing = asyncio.Event()

    async def keep_producing() -> int:
        # A topic that grows all the time: an archiver chasing its end would never exit.
        made = 0
        while not stop_producing.is_set():
            await produce(broker, topics.raw, sends(4, partitions=2, seed=made))
            made += 4
        return made

    producing = asyncio.create_task(keep_producing())
    try:
        with ArchiveWriter(tmp_path, topics.raw) as writer:
            run = await asyncio.wait_for(archive_topic(
                broker.bootstrap, topics.raw, writer, group=f"{unique}-archive", once=True,
                flush_records=7), 60)
    finally:
        stop_producing.set()
        more = await producing
    assert run.complete
    archived = read_archive(tmp_path, topics.raw)
    assert 40 <= len(archived) <= 40 + more
    commits = await committed(broker, f"{unique}-archive", topics.raw)
    for partition in (0, 1):  # a prefix of each partition, exactly what was committed
        offsets = sorted(r.offset for r in archived if r.partition == partition)
        assert offsets == list(range(commits[partition]))


async def test_a_stop_flushes_and_commits_what_was_read(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=2, prefix=f"{unique}.")
    await produce(broker, topics.raw, sends(40, partitions=2))
    stop = asyncio.Event()
    with ArchiveWriter(tmp_path, topics.raw) as writer:
        running = asyncio.create_task(archive_topic(
            broker.bootstrap, topics.raw, writer, group=f"{unique}-archive", once=False,
            flush_records=10**6, flush_seconds=3600, stop=stop))
        await wait_until(lambda: writer.pending == 40 or running.done(), 30, "40 records read")
        assert archive_files(tmp_path, topics.raw) == []  # nothing is flushed before the stop
        stop.set()
        run = await asyncio.wait_for(running, 30)
    assert run.records == 40 and not run.complete
    assert len(read_archive(tmp_path, topics.raw)) == 40
    assert await committed(broker, f"{unique}-archive", topics.raw) == {0: 20, 1: 20}


async def test_sigterm_stops_the_archiver_cleanly(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=2, prefix=f"{unique}.")
    await produce(broker, topics.raw, sends(30, partitions=2))
    directory = tmp_path / "archive"
    process = await archiver(env_for(broker, unique, tmp_path), "--dir", str(directory),
                             "--flush-records", "10")
    try:
        await wait_until(lambda: len(read_archive(directory, topics.raw)) == 30, 60,
                         "30 records archived")
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err
    assert "archived 30 records" in out.decode() and "Traceback" not in err.decode()
    assert await committed(broker, f"{unique}-archive", topics.raw) == {0: 15, 1: 15}


async def test_records_archived_twice_are_read_once(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=2, prefix=f"{unique}.")
    await produce(broker, topics.raw, sends(50, partitions=2))
    env = env_for(broker, unique, tmp_path)
    for group in ("first", "second"):  # as a crash before the commit would, in full
        assert (await run_archiver(env, "--dir", str(tmp_path), "--once", "--group",
                                   f"{unique}-{group}"))[0] == 0
    assert lines_on_disk(tmp_path, topics.raw) == 100
    archived = read_archive(tmp_path, topics.raw)
    assert by_offset(archived) == await read_all(broker.bootstrap, topics.raw, expected=50)


async def test_a_topic_that_is_not_the_archived_log_is_refused(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    archived, recreated = await topic_factory(partitions=2), await topic_factory(partitions=2)
    await produce(broker, archived.raw, sends(20, partitions=2))
    await produce(broker, recreated.raw, [{**s, "timestamp_ms": s["timestamp_ms"] + 1}
                                          for s in sends(60, partitions=2)])
    with ArchiveWriter(tmp_path, archived.raw) as writer:
        await archive_topic(broker.bootstrap, archived.raw, writer, group=unique, once=True)
    # The same name with other records under the same offsets: a broker that lost the topic.
    shutil.copytree(tmp_path / archived.raw, tmp_path / recreated.raw)
    with ArchiveWriter(tmp_path, recreated.raw) as writer, pytest.raises(
            ArchiveError, match="is not the log archived.*holds a different record there"):
        await archive_topic(broker.bootstrap, recreated.raw, writer, group=unique, once=True)
    assert lines_on_disk(tmp_path, recreated.raw) == 20  # nothing was added


async def test_restore_into_a_fresh_topic_reproduces_the_records(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=3, prefix=f"{unique}.")
    await produce(broker, topics.raw, sends(90, partitions=3))
    env, directory = env_for(broker, unique, tmp_path), str(tmp_path / "archive")
    assert (await run_archiver(env, "--dir", directory, "--once"))[0] == 0
    original = await read_all(broker.bootstrap, topics.raw, expected=90)

    fresh = f"{unique}.restored"
    code, out, err = await run_archiver(env, "restore", "--dir", directory, "--to-topic", fresh)
    assert code == 0, err
    assert f"restored 90 records of {topics.raw}" in out and "(created it)" in out
    assert "other offsets" not in err  # an empty topic gets the archived offsets back
    restored = await read_all(broker.bootstrap, fresh, expected=90)
    assert restored == [dataclasses.replace(r, topic=fresh) for r in original]


async def test_restore_takes_a_time_window_and_a_dry_run(
        broker: Any, unique: str, topic_factory: Any, tmp_path: Path) -> None:
    topics = await topic_factory(partitions=3, prefix=f"{unique}.")
    await produce(broker, topics.raw, sends(90, partitions=3))
    env, directory = env_for(broker, unique, tmp_path), str(tmp_path / "archive")
    assert (await run_archiver(env, "--dir", directory, "--once"))[0] == 0
    start, end = T0 + HOUR_MS, T0 + 2 * HOUR_MS
    expected = [r for r in await read_all(broker.bootstrap, topics.raw, expected=90)
                if start <= r.timestamp_ms < end]
    window = ("--from", _iso(start), "--to", _iso(end))
    fresh = f"{unique}.window"

    code, out, _ = await run_archiver(env, "restore", "--dir", directory, "--to-topic", fresh,
                                      "--dry-run", *window)
    assert code == 0 and f"would restore {len(expected)} records" in out
    assert not await _exists(broker, fresh)  # a dry run creates and produces nothing

    code, out, err = await run_archiver(env, "restore", "--dir", directory, "--to-topic", fresh,
                                        *window)
    assert code == 0, err
    restored = await read_all(broker.bootstrap, fresh, expected=len(expected))
    assert [(r.partition, r.key, r.value, r.headers, r.timestamp_ms) for r in restored] == [
        (r.partition, r.key, r.value, r.headers, r.timestamp_ms) for r in expected]
    assert "records got other offsets than in the archive" in err  # a window starts later


def _iso(moment_ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment_ms / 1000, UTC).isoformat()


async def _exists(broker: Any, topic: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        return topic in await admin.list_topics()  # by name, the embedded broker creates it
    finally:
        await admin.close()


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--once",), 2, "say where to archive: --dir DIR"),
    (("--dir", "{file}/archive", "--once"), 1, "cannot write the archive under"),
    (("--dir", "{file}", "--once"), 2, "is a file"),
    (("--dir", "{tmp}/archive", "--once", "--topic", "{missing}"), 1, "does not exist on"),
    (("restore", "--dir", "{tmp}"), 1, "nothing archived of"),
    (("restore", "--dir", "{tmp}", "--from", "last tuesday"), 2, "is not a time"),
    (("--dir", "{tmp}", "restore", "--dir", "{tmp}"), 2, "write the options after `restore`"),
], ids=["no-dir", "dir-under-a-file", "dir-is-a-file", "unknown-topic", "nothing-archived",
        "bad-time", "options-before-restore"])
def test_user_mistakes_are_one_clear_line(broker: Any, unique: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...],
                                          code: int, message: str) -> None:
    monkeypatch.setenv("WIREWATCH_KAFKA_BOOTSTRAP", broker.bootstrap)
    monkeypatch.setenv("WIREWATCH_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "file").write_text("not a directory")
    missing = f"{unique}.missing"
    argv = [a.format(file=tmp_path / "file", tmp=tmp_path, missing=missing) for a in args]
    result = CliRunner().invoke(archive, argv, prog_name="wirewatch archive")
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not asyncio.run(_exists(broker, missing))  # looking did not create it

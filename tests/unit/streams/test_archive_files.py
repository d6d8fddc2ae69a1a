"""The archive on disk: layout, line format, round trip, repeats, damage and time windows."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from wirewatch.streams.replay.archive import (
    HOUR_MS,
    ArchiveError,
    ArchiveWriter,
    archive_files,
    newest_records,
    read_archive,
)
from wirewatch.streams.replay.source import SourceRecord

T0 = int(datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp()) * 1000
TOPIC = "news.raw.v1"


def record(partition: int, offset: int, at: int, **fields: object) -> SourceRecord:
    values: dict[str, object] = {"key": f"k{offset}".encode(), "value": b"v" * offset}
    values.update(fields)
    return SourceRecord(TOPIC, partition, offset, at, **values)  # type: ignore[arg-type]


def write(directory: Path, *flushes: list[SourceRecord]) -> None:
    """Each list is one flush (one gzip member per file), by one writer session."""
    with ArchiveWriter(directory, TOPIC) as writer:
        for records in flushes:
            for item in records:
                writer.add(item)
            writer.flush()


def odd_records() -> list[SourceRecord]:
    """Every shape a Kafka record can take, over 3 partitions and 3 hours, with timestamps
    that go back and forth between hours (producers set them)."""
    shapes: list[dict[str, object]] = [
        {"key": None, "value": b"plain"},
        {"key": b"", "value": b""},
        {"key": bytes(range(256)), "value": None},
        {"key": b"k", "value": bytes(range(255, -1, -1)) * 12,
         "headers": (("feed_id", b"\x00\xff\x00"), ("feed_id", b"again"), ("", b""))},
        {"key": b"\xc3\x28", "value": "é ✓ 新聞".encode(),
         "headers": (("naïve-名前", "é".encode()),), "timestamp_type": 1},
    ]
    return [record(p, o, T0 + ((o * 7) % 3) * HOUR_MS + o * 1000, **shapes[(o + p) % 5])
            for p in range(3) for o in range(20)]


def in_offset_order(records: list[SourceRecord]) -> list[SourceRecord]:
    return sorted(records, key=lambda r: (r.partition, r.offset))


def per_partition(records: list[SourceRecord]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for item in records:
        found.setdefault(item.partition, []).append(item.offset)
    return found


def test_round_trip_keeps_every_byte(tmp_path: Path) -> None:
    records = odd_records()
    write(tmp_path, records[:25], records[25:])
    back = list(read_archive(tmp_path, TOPIC))
    assert in_offset_order(back) == records  # every field, byte for byte
    assert per_partition(back) == {p: list(range(20)) for p in range(3)}  # offset order


def test_layout_is_one_gzip_file_per_hour_and_partition(tmp_path: Path) -> None:
    records = odd_records()
    write(tmp_path, records[:25], records[25:])
    files = archive_files(tmp_path, TOPIC)
    assert [f.path.relative_to(tmp_path).as_posix() for f in files] == [
        f"{TOPIC}/2026-11-20/{hour:02d}.p{p}.jsonl.gz" for hour in (8, 9, 10) for p in range(3)]
    assert [f.hour_start_ms for f in files] == [T0 + h * HOUR_MS for h in range(3) for _ in "abc"]
    assert all(f.size_bytes == f.path.stat().st_size > 0 for f in files)
    # Plain gzip readers see one stream across the members; each line is documented JSON.
    with gzip.open(files[1].path, "rt", encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle]
    assert [line["o"] for line in lines] == [0, 3, 6, 9, 12, 15, 18]
    tombstone = records[26]  # partition 1, offset 6: a null value
    assert lines[2] == {"p": 1, "o": 6, "ts": tombstone.timestamp_ms, "tt": 0,
                        "k": base64.b64encode(bytes(range(256))).decode(), "v": None, "h": []}
    with gzip.open(files[0].path) as handle:
        headed = next(json.loads(line) for line in handle if b'"o":3,' in line)
    assert headed["h"] == [["feed_id", "AP8A"], ["feed_id", "YWdhaW4="], ["", ""]]


@pytest.mark.parametrize(("start", "end", "hours"), [
    (None, None, [0, 1, 2]),
    (T0 + HOUR_MS, None, [1, 2]),
    (T0 + HOUR_MS - 1, None, [0, 1, 2]),
    (None, T0 + HOUR_MS, [0]),
    (None, T0 + HOUR_MS + 1, [0, 1]),
    (T0 + 90 * 60_000, T0 + 100 * 60_000, [1]),
    (T0 + 3 * HOUR_MS, None, []),
], ids=["all", "from-hour-1", "from-last-ms-of-hour-0", "to-hour-1", "to-first-ms-of-hour-1",
        "inside-hour-1", "after-the-end"])
def test_files_are_chosen_by_hour_overlap(tmp_path: Path, start: int | None, end: int | None,
                                          hours: list[int]) -> None:
    write(tmp_path, odd_records())
    chosen = archive_files(tmp_path, TOPIC, start, end)
    assert [(f.hour_start_ms - T0) // HOUR_MS for f in chosen] == [h for h in hours
                                                                  for _ in range(3)]
    assert [f.partition for f in chosen] == [0, 1, 2] * len(hours)


def test_time_window_keeps_start_and_drops_end(tmp_path: Path) -> None:
    at = [T0 - 1, T0, T0 + 1, T0 + HOUR_MS - 1, T0 + HOUR_MS, T0 + HOUR_MS + 1]
    write(tmp_path, [record(0, o, t) for o, t in enumerate(at)])
    window = list(read_archive(tmp_path, TOPIC, T0, T0 + HOUR_MS))
    assert [r.timestamp_ms for r in window] == [T0, T0 + 1, T0 + HOUR_MS - 1]
    assert [r.timestamp_ms for r in read_archive(tmp_path, TOPIC, end_ms=T0)] == [T0 - 1]


def test_each_partition_comes_in_offset_order_when_timestamps_go_back(tmp_path: Path) -> None:
    hours = [2, 0, 1, 0, 2, 2, 1]
    write(tmp_path, [record(0, o, T0 + h * HOUR_MS + o) for o, h in enumerate(hours)])
    assert [r.offset for r in read_archive(tmp_path, TOPIC)] == list(range(len(hours)))


def test_records_written_twice_are_read_once(tmp_path: Path) -> None:
    records = [record(p, o, T0 + o * 60_000) for p in range(2) for o in range(40)]
    write(tmp_path, records[:30], records[40:70])
    # A restarted writer is handed again everything after the last commit it made.
    write(tmp_path, records[20:40], records[60:])
    back = list(read_archive(tmp_path, TOPIC))
    assert in_offset_order(back) == records
    assert len(back) == len(records)
    lines = sum(len(gzip.decompress(f.path.read_bytes()).splitlines())
                for f in archive_files(tmp_path, TOPIC))
    assert lines == 30 + 30 + 20 + 20  # the repeats are on disk, and only skipped on reading


def _two_members(tmp_path: Path) -> tuple[list[SourceRecord], Path, int]:
    records = [record(0, o, T0 + o, value=bytes(range(256)) * (o % 7)) for o in range(200)]
    write(tmp_path, records[:100])
    (path,) = [f.path for f in archive_files(tmp_path, TOPIC)]
    first_member = path.stat().st_size
    write(tmp_path, records[100:])
    return records, path, first_member


def test_a_truncated_file_is_read_up_to_the_damage(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    records, path, first_member = _two_members(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:first_member + (len(data) - first_member) // 2])
    with caplog.at_level(logging.WARNING):
        back = list(read_archive(tmp_path, TOPIC))
    assert 100 <= len(back) < 200
    assert back == records[:len(back)]  # whole records only, nothing invented
    assert "is damaged after byte" in caplog.text

    path.write_bytes(data[:5])  # even the first header is cut
    assert list(read_archive(tmp_path, TOPIC)) == []


def test_the_writer_cuts_a_half_written_member_before_appending(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    records, path, first_member = _two_members(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:first_member + 40])  # a crash mid-write: nothing committed
    with caplog.at_level(logging.WARNING):
        write(tmp_path, records[100:])  # Kafka hands the uncommitted records over again
        assert "cutting a half-written last member" in caplog.text
        caplog.clear()
        assert list(read_archive(tmp_path, TOPIC)) == records
    assert "damaged" not in caplog.text


def test_the_writer_refuses_to_append_to_a_corrupt_file(tmp_path: Path) -> None:
    _, path, first_member = _two_members(tmp_path)
    data = bytearray(path.read_bytes())
    data[first_member // 2:first_member // 2 + 8] = b"\xff" * 8  # not a crash: bad storage
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="is corrupt after byte 0"):
        write(tmp_path, [record(0, 500, T0)])


def test_one_writer_per_directory_and_topic(tmp_path: Path) -> None:
    with ArchiveWriter(tmp_path, TOPIC), pytest.raises(ArchiveError, match="another"):
        with ArchiveWriter(tmp_path, TOPIC):
            pass
    with ArchiveWriter(tmp_path, TOPIC), ArchiveWriter(tmp_path, "other.topic"):
        pass  # other topics have files (and locks) of their own


def test_an_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ArchiveError, match="cannot write the archive under"):
        with ArchiveWriter(tmp_path / "file" / "archive", TOPIC):
            pass


def test_newest_records_sample_the_newest_hour_of_each_partition(tmp_path: Path) -> None:
    write(tmp_path, [record(0, 0, T0), record(0, 1, T0 + 2 * HOUR_MS), record(0, 2, T0),
                     record(1, 0, T0 + HOUR_MS)])
    newest = newest_records(tmp_path, TOPIC)
    assert {p: r.offset for p, r in newest.items()} == {0: 1, 1: 0}
    assert newest_records(tmp_path / "nowhere", TOPIC) == {}

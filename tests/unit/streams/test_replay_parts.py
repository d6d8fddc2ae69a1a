"""Pure parts of replay: reading times, merging partitions by time, the report's forms."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from wirewatch.streams.replay.merge import TimeMerge
from wirewatch.streams.replay.report import Match, Report
from wirewatch.streams.replay.source import SourceRecord
from wirewatch.streams.replay.window import MomentError, parse_duration, parse_moment

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_moments_read_as_iso_times_dates_or_ages() -> None:
    assert parse_moment("now", NOW) == NOW
    assert parse_moment("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_moment("1d12h ago", NOW) == NOW - timedelta(hours=36)
    assert parse_moment("2026-11-20", NOW) == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_moment("2026-11-20T08:00+01:00", NOW) == datetime(2026, 11, 20, 7, tzinfo=UTC)
    assert parse_duration("90m") == timedelta(minutes=90) and parse_duration("2x") is None
    with pytest.raises(MomentError, match="is not a time"):
        parse_moment("last tuesday", NOW)


def record(partition: int, offset: int, at: int) -> SourceRecord:
    return SourceRecord("t", partition, offset, at, None, b"")


def test_merge_releases_in_time_order_and_keeps_each_partition_in_order() -> None:
    merge = TimeMerge([0, 1])
    merge.add(0, [record(0, 0, 10), record(0, 1, 30)], ended=False)
    assert merge.release(10) == []  # partition 1 could still bring something earlier
    merge.add(1, [record(1, 0, 20)], ended=False)
    assert [(r.partition, r.offset) for r in merge.release(10)] == [(0, 0), (1, 0)]
    merge.add(1, [record(1, 1, 25), record(1, 2, 5)], ended=True)  # out of time order
    assert [(r.partition, r.offset) for r in merge.release(10)] == [(1, 1), (1, 2), (0, 1)]
    assert not merge.drained
    merge.add(0, [], ended=True)
    assert merge.drained


def test_merge_respects_the_batch_limit() -> None:
    merge = TimeMerge([0])
    merge.add(0, [record(0, n, n) for n in range(5)], ended=True)
    assert len(merge.release(2)) == 2 and len(merge.release(10)) == 3


def test_report_survives_a_checkpoint_and_escapes_markdown() -> None:
    report = Report(run_id="r", source="kafka t", window={"from": "a", "to": None},
                    mode="dry-run", filters={"feeds": [], "subscriptions": []},
                    subscriptions={"s": "Pipes | brackets"})
    report.count_article(topics=["earnings"], entities=["microsoft"], source="x",
                         new_story=True)
    report.matches.append(Match("s", "story", "A [link] | title", "https://x/a b", "x",
                                "2026-11-20T08:00:00+00:00", ["topic:earnings"], False))
    again = Report.from_json(json.loads(json.dumps(report.to_json())))
    assert again == report
    # to_json is built by hand for speed: it must stay what asdict() gives, key order too
    expected = {**asdict(report), "matches_per_subscription": {"s": 1}}
    assert json.dumps(report.to_json()) == json.dumps(expected)
    markdown = report.to_markdown()
    assert "[A \\[link\\] \\| title](https://x/a%20b)" in markdown
    assert "Pipes \\| brackets" in markdown
    # No event id: a match recorded before events (or a story alone) leaves the column empty.
    assert report.to_csv().splitlines()[1].startswith("s,story,,2026-11-20T08:00:00+00:00,")


@pytest.mark.parametrize("command", [["replay"], ["subscriptions", "backtest", "any"]])
def test_a_window_that_ends_before_it_starts_is_refused(command: list[str]) -> None:
    from click.testing import CliRunner

    from wirewatch.cli import main

    result = CliRunner().invoke(main, [*command, "--from", "1h", "--to", "2h"])
    assert result.exit_code == 2 and "--to must be after --from" in result.output

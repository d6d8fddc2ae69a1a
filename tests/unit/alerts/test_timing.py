"""Digest, quiet-hours and rate-cap timing with an injected clock, across time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from wirewatch.alerts.subscriptions import Schedule
from wirewatch.alerts.timing import group_release, in_quiet_hours, release_time

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


@pytest.mark.parametrize(("schedule", "now", "due"), [
    (Schedule(), paris(2026, 3, 2, 10, 15), paris(2026, 3, 2, 10, 15)),
    (Schedule(mode="hourly", timezone="Europe/Paris"), paris(2026, 3, 2, 10, 15),
     paris(2026, 3, 2, 11, 0)),
    (Schedule(mode="daily", at="08:00", timezone="Europe/Paris"), paris(2026, 3, 2, 7, 59),
     paris(2026, 3, 2, 8, 0)),
    (Schedule(mode="daily", at="08:00", timezone="Europe/Paris"), paris(2026, 3, 2, 8, 1),
     paris(2026, 3, 3, 8, 0)),
    # Quiet hours across midnight push an immediate alert to their end...
    (Schedule(timezone="Europe/Paris", quiet_hours=("22:00", "07:00")),
     paris(2026, 3, 2, 23, 30), paris(2026, 3, 3, 7, 0)),
    (Schedule(timezone="Europe/Paris", quiet_hours=("22:00", "07:00")),
     paris(2026, 3, 3, 6, 59), paris(2026, 3, 3, 7, 0)),
    (Schedule(timezone="Europe/Paris", quiet_hours=("22:00", "07:00")),
     paris(2026, 3, 3, 7, 0), paris(2026, 3, 3, 7, 0)),
    # ... and a digest that would land in them.
    (Schedule(mode="daily", at="06:00", timezone="Europe/Paris",
              quiet_hours=("22:00", "07:00")), paris(2026, 3, 2, 12, 0),
     paris(2026, 3, 3, 7, 0)),
    # Daily at 08:00 Paris on the day clocks go forward (29 March 2026): still 08:00 local.
    (Schedule(mode="daily", at="08:00", timezone="Europe/Paris"), paris(2026, 3, 28, 9, 0),
     paris(2026, 3, 29, 8, 0)),
])
def test_release_time(schedule: Schedule, now: datetime, due: datetime) -> None:
    assert release_time(schedule, now) == due


def test_release_time_takes_any_zone_in_and_gives_the_same_instant() -> None:
    schedule = Schedule(mode="daily", at="08:00", timezone="America/New_York")
    due = release_time(schedule, datetime(2026, 6, 1, 13, 0, tzinfo=UTC))  # 09:00 in New York
    assert due.astimezone(UTC) == datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def test_rate_cap_defers_to_the_next_hour() -> None:
    schedule = Schedule(timezone="Europe/Paris", rate_cap_per_hour=3)
    now = paris(2026, 3, 2, 10, 15)
    assert release_time(schedule, now, sent_this_hour=2) == now
    assert release_time(schedule, now, sent_this_hour=3) == paris(2026, 3, 2, 11, 0)


def test_quiet_hours_within_one_day_and_empty() -> None:
    lunch = Schedule(timezone="Europe/Paris", quiet_hours=("12:00", "14:00"))
    assert in_quiet_hours(lunch, paris(2026, 3, 2, 13, 0)) == paris(2026, 3, 2, 14, 0)
    assert in_quiet_hours(lunch, paris(2026, 3, 2, 14, 0)) is None
    assert in_quiet_hours(Schedule(quiet_hours=("09:00", "09:00")), paris(2026, 1, 1, 9)) is None


def test_group_release() -> None:
    grouped = Schedule(group_wait_seconds=30, group_interval_seconds=300)
    assert group_release(Schedule(), 1000.0, pending=None, last_sent=None) is None
    assert group_release(grouped, 1000.0, pending=None, last_sent=None) == 1030.0
    assert group_release(grouped, 1010.0, pending=1030.0, last_sent=None) == 1030.0
    assert group_release(grouped, 1100.0, pending=None, last_sent=1030.0) == 1330.0
    assert group_release(grouped, 2000.0, pending=1030.0, last_sent=1030.0) == 2030.0  # stale

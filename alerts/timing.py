"""When an alert may go out under its subscription's schedule: pure, the clock is an argument.

Immediate alerts go now; digests at the next hour (hourly) or the next local `at` (daily).
Quiet hours push whatever falls inside them to their end, and a rate cap pushes an
immediate alert past the current hour once the cap is reached. Times are computed in the
subscription's time zone, so daylight-saving changes land where a reader expects them.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from wirewatch.alerts.subscriptions import Schedule


def _at(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _next_local(moment: datetime, clock: time) -> datetime:
    """The first local time `clock` at or after `moment` (which is local)."""
    candidate = moment.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    if candidate < moment:
        candidate = (candidate + timedelta(days=1)).replace(hour=clock.hour,
                                                            minute=clock.minute)
    return candidate


def in_quiet_hours(schedule: Schedule, moment: datetime) -> datetime | None:
    """The end of the quiet hours `moment` falls in, or None when it is not in them."""
    if schedule.quiet_hours is None:
        return None
    local = moment.astimezone(schedule.zone)
    start, end = (_at(value) for value in schedule.quiet_hours)
    now = local.time()
    if start == end:
        return None
    inside = (start <= now < end) if start < end else (now >= start or now < end)
    return _next_local(local, end) if inside else None


def release_time(schedule: Schedule, now: datetime, *, sent_this_hour: int = 0) -> datetime:
    """When an alert that arrives at `now` (aware) should be delivered."""
    local = now.astimezone(schedule.zone)
    if schedule.mode == "hourly":
        due = (local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    elif schedule.mode == "daily":
        due = _next_local(local, _at(schedule.at))
    else:
        due = local
        if schedule.rate_cap_per_hour is not None and sent_this_hour >= schedule.rate_cap_per_hour:
            due = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    quiet_end = in_quiet_hours(schedule, due)
    return quiet_end if quiet_end is not None else due


def group_release(schedule: Schedule, now: float, *, pending: float | None,
                  last_sent: float | None) -> float | None:
    """When an alert of a grouped subscription goes out (Unix time), Alertmanager-style:
    the first of a burst waits `group_wait` for the rest, a group already waiting takes it
    along, and after a grouped message the next waits out `group_interval`. None: not
    grouped, send as the schedule says."""
    if schedule.group_wait_seconds <= 0:
        return None
    if pending is not None and pending > now:
        return pending
    if last_sent is not None and now < last_sent + schedule.group_interval_seconds:
        return last_sent + schedule.group_interval_seconds
    return now + schedule.group_wait_seconds

"""Subscriptions: who wants which stories, on which channels, when; read from YAML or JSON."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wirewatch.alerts.errors import QueryError, SubscriptionError
from wirewatch.alerts.query import Node, forbidden_character, parse_query
from wirewatch.alerts.vocabulary import Vocabulary, check_query
from wirewatch.connectors.yaml_file import LocatedList, line_of, read_yaml, unknown_key_message

_SLUG = re.compile(r"[^a-z0-9]+")
_CHANNEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
MODES = ("immediate", "hourly", "daily")
PER = ("event", "story")  # one alert per event (with threaded updates) or per story
NEW_PER = "event"  # what a new subscription gets; one stored without `per` keeps "story"



def clock_text(value: object) -> str:
    """A time of day as written; YAML 1.1 reads an unquoted 22:00 as the number 1320."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    return str(value)


def _clock(value: str, where: str) -> str:
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise SubscriptionError(f"{where}: {value!r} is not a time of day like 08:00")
    return value


@dataclass(frozen=True)
class Schedule:
    """When a subscription's alerts go out: at once or as a digest, never in quiet hours."""

    mode: str = "immediate"  # immediate, hourly (digest) or daily (digest at `at`)
    at: str = "08:00"  # daily digests: local time
    timezone: str = "UTC"
    quiet_hours: tuple[str, str] | None = None  # local (start, end), e.g. ("22:00", "07:00")
    rate_cap_per_hour: int | None = None  # beyond this, alerts wait for the next hour
    group_wait_seconds: float = 0.0  # > 0: wait this long to send a burst as one message
    group_interval_seconds: float = 300.0  # then at most one grouped message per interval

    def __post_init__(self) -> None:
        where = "schedule"
        if self.mode not in MODES:
            raise SubscriptionError(f"{where}: mode must be one of {list(MODES)}")
        _clock(self.at, where)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SubscriptionError(f"{where}: unknown time zone {self.timezone!r} "
                                    "(use an IANA name such as Europe/Paris)") from exc
        if self.quiet_hours is not None:
            if len(self.quiet_hours) != 2:
                raise SubscriptionError(f"{where}: quiet_hours is [start, end], e.g. "
                                        "['22:00', '07:00']")
            for value in self.quiet_hours:
                _clock(value, where)
        if self.rate_cap_per_hour is not None and self.rate_cap_per_hour < 1:
            raise SubscriptionError(f"{where}: rate_cap_per_hour must be at least 1")
        if self.group_wait_seconds < 0 or self.group_interval_seconds < 0:
            raise SubscriptionError(f"{where}: group_wait_seconds and group_interval_seconds "
                                    "cannot be negative")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "timezone": self.timezone}
        if self.mode == "daily":
            out["at"] = self.at
        if self.quiet_hours:
            out["quiet_hours"] = list(self.quiet_hours)
        if self.rate_cap_per_hour:
            out["rate_cap_per_hour"] = self.rate_cap_per_hour
        if self.group_wait_seconds:
            out["group_wait_seconds"] = self.group_wait_seconds
            out["group_interval_seconds"] = self.group_interval_seconds
        return out


@dataclass(frozen=True)
class Subscription:
    """A named query plus the channels its alerts go to, and when.

    Example:
        >>> Subscription.create(name="OpenAI leadership", owner="ana",
        ...                     query="entity:openai AND topic:leadership-change")
    """

    id: str
    name: str
    owner: str
    query: str
    parsed: Node = field(compare=False, repr=False)
    channels: tuple[str, ...] = ("console",)
    schedule: Schedule = field(default_factory=Schedule)
    min_salience: float = 0.0  # entities below this salience do not count for `entity:`
    update_after_outlets: int | None = 5  # an update when this many more outlets carry it
    update_on_new_headline: bool = True  # an update when the story's headline changes
    per: str = NEW_PER  # "event": one alert per event, later stories threaded as updates
    update_after_stories: int = 3  # per event: an update when this many more stories join

    @classmethod
    def create(cls, *, name: str, owner: str, query: str,
               channels: tuple[str, ...] = ("console",), id: str | None = None,
               schedule: Schedule | None = None, min_salience: float = 0.0,
               update_after_outlets: int | None = 5,
               update_on_new_headline: bool = True, per: str = NEW_PER,
               update_after_stories: int = 3) -> Subscription:
        problem = forbidden_character(name)
        if problem:
            raise SubscriptionError(f"subscription {name!r}: {problem} is not allowed in a "
                                    "name")
        try:
            parsed = parse_query(query)
        except QueryError as exc:
            raise SubscriptionError(f"subscription {name!r}: {exc}") from exc
        malformed = [channel for channel in channels if not _CHANNEL_ID.fullmatch(channel)]
        if malformed:
            raise SubscriptionError(f"subscription {name!r}: channel id(s) {malformed} are not "
                                    "ids of the channels file (letters, digits, . _ -)")
        if not channels:
            raise SubscriptionError(f"subscription {name!r}: needs at least one channel")
        if not 0.0 <= min_salience <= 1.0:
            raise SubscriptionError(f"subscription {name!r}: min_salience is between 0 and 1")
        if per not in PER:
            raise SubscriptionError(f"subscription {name!r}: per must be one of {list(PER)}")
        if isinstance(update_after_stories, bool) or not isinstance(update_after_stories, int) \
                or update_after_stories < 1:
            raise SubscriptionError(f"subscription {name!r}: update_after_stories must be a "
                                    "whole number, at least 1")
        if update_after_outlets is not None and update_after_outlets < 1:
            raise SubscriptionError(f"subscription {name!r}: update_after_outlets must be at "
                                    "least 1 (or null for no outlet updates)")
        return cls(id=id or slugify(name), name=name, owner=owner, query=query, parsed=parsed,
                   channels=tuple(channels), schedule=schedule or Schedule(),
                   min_salience=float(min_salience), update_after_outlets=update_after_outlets,
                   update_on_new_headline=update_on_new_headline, per=per,
                   update_after_stories=update_after_stories)

    def to_dict(self) -> dict[str, Any]:
        """The subscription as YAML/JSON would hold it (what `from_mapping` reads back)."""
        return {"id": self.id, "name": self.name, "owner": self.owner, "query": self.query,
                "channels": list(self.channels), "schedule": self.schedule.to_dict(),
                "min_salience": self.min_salience,
                "update_after_outlets": self.update_after_outlets,
                "update_on_new_headline": self.update_on_new_headline,
                "per": self.per, "update_after_stories": self.update_after_stories}


def check_channels(subscriptions: list[Subscription], known: frozenset[str]) -> None:
    """Every channel a subscription names must be defined (console always is)."""
    for subscription in subscriptions:
        unknown = sorted(set(subscription.channels) - known)
        if unknown:
            raise SubscriptionError(
                f"subscription {subscription.name!r}: unknown channel(s) {unknown}; defined: "
                f"{sorted(known)} (add them to WIREWATCH_CHANNELS_FILE)")


def check_terms(subscriptions: list[Subscription], vocabulary: Vocabulary) -> None:
    """Every topic and entity a subscription names must exist, or it could never fire."""
    for subscription in subscriptions:
        try:
            check_query(subscription.query, vocabulary)
        except QueryError as exc:
            raise SubscriptionError(f"subscription {subscription.name!r}: {exc}") from exc


def slugify(name: str) -> str:
    slug = _SLUG.sub("-", name.lower()).strip("-")
    if not slug:
        raise SubscriptionError(f"subscription name {name!r} has no letters or digits")
    return slug


# What a subscriptions file entry may hold: what `Subscription.to_dict` writes.
FILE_KEYS = ("id", "name", "owner", "query", "channels", "schedule", "min_salience",
             "update_after_outlets", "update_on_new_headline", "per", "update_after_stories")
SCHEDULE_KEYS = ("mode", "at", "timezone", "quiet_hours", "rate_cap_per_hour",
                 "group_wait_seconds", "group_interval_seconds")


def load_subscriptions(path: Path) -> list[Subscription]:
    """Read a YAML file with a top-level `subscriptions:` list; ids must be unique, and keys
    an entry does not know (a typo) are refused with the entry's line and the closest key."""
    document = read_yaml(path, SubscriptionError, "subscriptions file", located=True)
    entries = document.get("subscriptions") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SubscriptionError(f"subscriptions file {path} needs a top-level "
                                "'subscriptions:' list")
    subscriptions = []
    lines = entries.lines if isinstance(entries, LocatedList) else []
    for i, entry in enumerate(entries):
        line = line_of(entry) or (lines[i] if i < len(lines) else None)
        where = f"{path}:{line}: subscriptions[{i}]" if line else f"{path}: subscriptions[{i}]"
        if isinstance(entry, dict):
            _refuse_unknown(entry, FILE_KEYS, path, f"subscriptions[{i}]")
            if isinstance(entry.get("schedule"), dict):
                _refuse_unknown(entry["schedule"], SCHEDULE_KEYS, path,
                                f"subscriptions[{i}].schedule")
        subscriptions.append(from_mapping(entry, where))
    ids = [s.id for s in subscriptions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SubscriptionError(f"{path}: duplicate subscription ids {duplicates}")
    return subscriptions


def _refuse_unknown(entry: dict[Any, Any], known: tuple[str, ...], path: Path,
                    where: str) -> None:
    for key in entry:
        if key not in known:
            raise SubscriptionError(f"{path}:{line_of(entry, key)}: {where}: "
                                    f"{unknown_key_message(key, known)}")


def from_mapping(entry: Any, where: str = "subscription", *,
                 default_per: str = "story") -> Subscription:
    """A subscription from a YAML/JSON mapping; every mistake says where and what. Without
    `per` it is one written before events ("story"), unless the caller creates a new one."""
    if not isinstance(entry, dict):
        raise SubscriptionError(f"{where}: expected a mapping, got {entry!r}")
    missing = [key for key in ("name", "query") if not isinstance(entry.get(key), str)]
    if missing:
        raise SubscriptionError(f"{where}: missing or non-string {missing}")
    if "id" in entry and not isinstance(entry["id"], str):
        raise SubscriptionError(f"{where}: id must be a string, got {entry['id']!r}")
    channels = entry.get("channels", ["console"])
    if isinstance(channels, str):
        channels = [channels]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise SubscriptionError(f"{where}: channels must be a list of strings")
    schedule = entry.get("schedule") or {}
    if not isinstance(schedule, dict):
        raise SubscriptionError(f"{where}: schedule must be a mapping")
    unknown = set(schedule) - set(SCHEDULE_KEYS)
    if unknown:
        raise SubscriptionError(f"{where}: unknown schedule key(s) {sorted(unknown)}")
    try:
        quiet = schedule.get("quiet_hours")
        return Subscription.create(
            name=entry["name"], owner=str(entry.get("owner", "")), query=entry["query"],
            channels=tuple(channels), id=entry.get("id"),
            schedule=Schedule(mode=str(schedule.get("mode", "immediate")),
                              at=clock_text(schedule.get("at", "08:00")),
                              timezone=str(schedule.get("timezone", "UTC")),
                              quiet_hours=tuple(clock_text(q) for q in quiet)  # type: ignore[arg-type]
                              if isinstance(quiet, list) else quiet,
                              rate_cap_per_hour=schedule.get("rate_cap_per_hour"),
                              group_wait_seconds=float(schedule.get("group_wait_seconds", 0)),
                              group_interval_seconds=float(
                                  schedule.get("group_interval_seconds", 300))),
            min_salience=float(entry.get("min_salience", 0.0)),
            update_after_outlets=entry.get("update_after_outlets", 5),
            update_on_new_headline=bool(entry.get("update_on_new_headline", True)),
            per=str(entry.get("per", default_per)),
            update_after_stories=entry.get("update_after_stories", 3))
    except SubscriptionError as exc:
        raise SubscriptionError(f"{where}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise SubscriptionError(f"{where}: {exc}") from exc

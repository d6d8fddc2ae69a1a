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
from wirewatch.connectors.yaml_file import (
    Position,
    at,
    position_of,
    read_yaml,
    unknown_key_message,
)

_SLUG = re.compile(r"[^a-z0-9]+")
_CHANNEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
MODES = ("immediate", "hourly", "daily")
PER = ("event", "story")  # one alert per event (with threaded updates) or per story
NEW_PER = "event"  # what a new subscription gets; one stored without `per` keeps "story"



class FieldError(SubscriptionError):
    """A mistake in one field ("min_salience", "schedule.timezone"), so that a file can
    point at that field's value."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def clock_text(value: object) -> str:
    """A time of day as written; YAML 1.1 reads an unquoted 22:00 as the number 1320."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    return str(value)


def _clock(value: str, where: str, field: str) -> str:
    if not isinstance(value, str) or not _CLOCK.fullmatch(value):
        raise FieldError(f"{where}: {value!r} is not a time of day like 08:00", field)
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
            raise FieldError(f"{where}: mode must be one of {list(MODES)}", "schedule.mode")
        _clock(self.at, where, "schedule.at")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise FieldError(f"{where}: unknown time zone {self.timezone!r} (use an IANA "
                             "name such as Europe/Paris)", "schedule.timezone") from exc
        if self.quiet_hours is not None:
            if len(self.quiet_hours) != 2:
                raise FieldError(f"{where}: quiet_hours is [start, end], e.g. "
                                 "['22:00', '07:00']", "schedule.quiet_hours")
            for value in self.quiet_hours:
                _clock(value, where, "schedule.quiet_hours")
        if self.rate_cap_per_hour is not None and self.rate_cap_per_hour < 1:
            raise FieldError(f"{where}: rate_cap_per_hour must be at least 1",
                             "schedule.rate_cap_per_hour")
        if self.group_wait_seconds < 0 or self.group_interval_seconds < 0:
            negative = "wait" if self.group_wait_seconds < 0 else "interval"
            raise FieldError(f"{where}: group_wait_seconds and group_interval_seconds cannot "
                             "be negative", f"schedule.group_{negative}_seconds")

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
            raise FieldError(f"subscription {name!r}: {problem} is not allowed in a name",
                             "name")
        try:
            parsed = parse_query(query)
        except QueryError as exc:
            raise FieldError(f"subscription {name!r}: {exc}", "query") from exc
        malformed = [channel for channel in channels if not _CHANNEL_ID.fullmatch(channel)]
        if malformed:
            raise FieldError(f"subscription {name!r}: channel id(s) {malformed} are not ids "
                             "of the channels file (letters, digits, . _ -)", "channels")
        if not channels:
            raise FieldError(f"subscription {name!r}: needs at least one channel", "channels")
        if not 0.0 <= min_salience <= 1.0:
            raise FieldError(f"subscription {name!r}: min_salience is between 0 and 1",
                             "min_salience")
        if per not in PER:
            raise FieldError(f"subscription {name!r}: per must be one of {list(PER)}", "per")
        if isinstance(update_after_stories, bool) or not isinstance(update_after_stories, int) \
                or update_after_stories < 1:
            raise FieldError(f"subscription {name!r}: update_after_stories must be a whole "
                             "number, at least 1", "update_after_stories")
        if update_after_outlets is not None and update_after_outlets < 1:
            raise FieldError(f"subscription {name!r}: update_after_outlets must be at least 1 "
                             "(or null for no outlet updates)", "update_after_outlets")
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
    for i, entry in enumerate(entries):
        if isinstance(entry, dict):
            _refuse_unknown(entry, FILE_KEYS, path, f"subscriptions[{i}]")
            if isinstance(entry.get("schedule"), dict):
                _refuse_unknown(entry["schedule"], SCHEDULE_KEYS, path,
                                f"subscriptions[{i}].schedule")
        subscriptions.append(from_mapping(entry, f"subscriptions[{i}]", file=path,
                                          position=position_of(entries, i)))
    ids = [s.id for s in subscriptions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        again = next(i for i, id_ in enumerate(ids) if id_ in ids[:i])  # the first repeat
        found = position_of(entries[again], "id") or position_of(entries, again)
        raise SubscriptionError(f"{at(path, found)}: duplicate subscription ids {duplicates}")
    return subscriptions


def _refuse_unknown(entry: dict[Any, Any], known: tuple[str, ...], path: Path,
                    where: str) -> None:
    for key in entry:
        if key not in known:
            raise SubscriptionError(f"{at(path, position_of(entry, key, of_key=True))}: "
                                    f"{where}: {unknown_key_message(key, known)}")


def _number(mapping: dict[Any, Any], key: str, default: float, prefix: str = "") -> float:
    """`mapping[key]` as a float; a FieldError (with Python's own words) when it is not one."""
    try:
        return float(mapping.get(key, default))
    except (TypeError, ValueError) as exc:
        raise FieldError(str(exc), prefix + key) from exc


def from_mapping(entry: Any, where: str = "subscription", *, default_per: str = "story",
                 file: Path | None = None, position: Position | None = None) -> Subscription:
    """A subscription from a YAML/JSON mapping; every mistake says where and what. Without
    `per` it is one written before events ("story"), unless the caller creates a new one.
    From a `file`, `where` follows "file:line:column" of the wrong value, else of the entry
    (at `position`)."""

    def here(field: str | None = None) -> str:
        if file is None:
            return where
        found, node = None, entry
        for key in field.split(".") if field else []:  # "schedule.mode": entry, schedule
            found = position_of(node, key) or found
            node = node.get(key) if isinstance(node, dict) else None
        return f"{at(file, found or position)}: {where}"

    if not isinstance(entry, dict):
        raise SubscriptionError(f"{here()}: expected a mapping, got {entry!r}")
    missing = [key for key in ("name", "query") if not isinstance(entry.get(key), str)]
    if missing:
        raise SubscriptionError(f"{here(missing[0])}: missing or non-string {missing}")
    if "id" in entry and not isinstance(entry["id"], str):
        raise SubscriptionError(f"{here('id')}: id must be a string, got {entry['id']!r}")
    channels = entry.get("channels", ["console"])
    if isinstance(channels, str):
        channels = [channels]
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise SubscriptionError(f"{here('channels')}: channels must be a list of strings")
    schedule = entry.get("schedule") or {}
    if not isinstance(schedule, dict):
        raise SubscriptionError(f"{here('schedule')}: schedule must be a mapping")
    unknown = set(schedule) - set(SCHEDULE_KEYS)
    if unknown:
        raise SubscriptionError(f"{here('schedule')}: unknown schedule key(s) "
                                f"{sorted(unknown)}")
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
                              group_wait_seconds=_number(schedule, "group_wait_seconds", 0,
                                                         "schedule."),
                              group_interval_seconds=_number(
                                  schedule, "group_interval_seconds", 300, "schedule.")),
            min_salience=_number(entry, "min_salience", 0.0),
            update_after_outlets=entry.get("update_after_outlets", 5),
            update_on_new_headline=bool(entry.get("update_on_new_headline", True)),
            per=str(entry.get("per", default_per)),
            update_after_stories=entry.get("update_after_stories", 3))
    except FieldError as exc:
        raise FieldError(f"{here(exc.field)}: {exc}", exc.field) from exc
    except (SubscriptionError, TypeError, ValueError) as exc:
        raise SubscriptionError(f"{here()}: {exc}") from exc

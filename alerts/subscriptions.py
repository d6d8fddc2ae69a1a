"""Subscriptions: who wants which stories, on which channels; loaded from YAML."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alerts.errors import QueryError, SubscriptionError
from alerts.query import Node, parse_query

_SLUG = re.compile(r"[^a-z0-9]+")
_CHANNEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Subscription:
    """A named query plus the channels its alerts go to.

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

    @classmethod
    def create(cls, *, name: str, owner: str, query: str,
               channels: tuple[str, ...] = ("console",), id: str | None = None) -> Subscription:
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
        return cls(id=id or slugify(name), name=name, owner=owner, query=query, parsed=parsed,
                   channels=tuple(channels))


def check_channels(subscriptions: list[Subscription], known: frozenset[str]) -> None:
    """Every channel a subscription names must be defined (console always is)."""
    for subscription in subscriptions:
        unknown = sorted(set(subscription.channels) - known)
        if unknown:
            raise SubscriptionError(
                f"subscription {subscription.name!r}: unknown channel(s) {unknown}; defined: "
                f"{sorted(known)} (add them to WIREWATCH_CHANNELS_FILE)")


def slugify(name: str) -> str:
    slug = _SLUG.sub("-", name.lower()).strip("-")
    if not slug:
        raise SubscriptionError(f"subscription name {name!r} has no letters or digits")
    return slug


def load_subscriptions(path: Path) -> list[Subscription]:
    """Read a YAML file with a top-level `subscriptions:` list; ids must be unique."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SubscriptionError(f"cannot read subscriptions file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise SubscriptionError(f"subscriptions file {path} is not valid YAML: {exc}") from exc
    entries = document.get("subscriptions") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SubscriptionError(f"subscriptions file {path} needs a top-level "
                                "'subscriptions:' list")
    subscriptions = [_from_mapping(entry, f"{path}: subscriptions[{i}]")
                     for i, entry in enumerate(entries)]
    ids = [s.id for s in subscriptions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SubscriptionError(f"{path}: duplicate subscription ids {duplicates}")
    return subscriptions


def _from_mapping(entry: Any, where: str) -> Subscription:
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
    try:
        return Subscription.create(name=entry["name"], owner=str(entry.get("owner", "")),
                                   query=entry["query"], channels=tuple(channels),
                                   id=entry.get("id"))
    except SubscriptionError as exc:
        raise SubscriptionError(f"{where}: {exc}") from exc

"""Parse feed bodies (RSS, Atom via feedparser; JSON Feed natively) into plain entries."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser


@dataclass(frozen=True)
class ParsedEntry:
    """One entry as the feed states it, before identity and canonicalisation."""

    guid: str | None
    url: str | None
    title: str
    summary: str
    content: str
    author: str | None
    published: datetime | None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its entries plus any error met on the way (kept, never raised)."""

    title: str = ""
    entries: list[ParsedEntry] = field(default_factory=list)
    error: str | None = None
    ttl_minutes: int | None = None
    hub_urls: tuple[str, ...] = ()  # WebSub hubs the feed advertises (rel="hub")
    self_url: str | None = None  # the feed's canonical URL for WebSub (rel="self")


def parse_feed(body: bytes, content_type: str = "") -> ParsedFeed:
    """Parse a feed body. Malformed input keeps what parsed and sets `error`."""
    stripped = body.lstrip()
    if "json" in content_type.lower() or stripped.startswith(b"{"):
        return _parse_json_feed(body)
    return _parse_xml_feed(body)


def _parse_xml_feed(body: bytes) -> ParsedFeed:
    parsed = feedparser.parse(body, sanitize_html=True, resolve_relative_uris=True)
    error = None
    if parsed.get("bozo"):
        error = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
    if not parsed.entries and (not parsed.feed or not parsed.get("version")):
        return ParsedFeed(error=error or "not a feed")
    entries = [_entry_from_feedparser(entry) for entry in parsed.entries]
    ttl = _int_or_none(parsed.feed.get("ttl"))
    links = [link for link in parsed.feed.get("links", []) if isinstance(link, dict)]
    hubs = tuple(str(link["href"]) for link in links
                 if link.get("rel") == "hub" and link.get("href"))
    self_url = next((str(link["href"]) for link in links
                     if link.get("rel") == "self" and link.get("href")), None)
    return ParsedFeed(title=str(parsed.feed.get("title", "")), entries=entries, error=error,
                      ttl_minutes=ttl, hub_urls=hubs, self_url=self_url)


def _entry_from_feedparser(entry: Any) -> ParsedEntry:
    content = ""
    if entry.get("content"):
        content = "\n".join(str(part.get("value", "")) for part in entry["content"])
    published_struct = entry.get("published_parsed") or entry.get("updated_parsed")
    published = None
    if published_struct:
        published = datetime.fromtimestamp(calendar.timegm(published_struct), tz=UTC)
    return ParsedEntry(
        guid=entry.get("id") or None,
        url=entry.get("link") or None,
        title=str(entry.get("title", "")),
        summary=str(entry.get("summary", "")),
        content=content,
        author=entry.get("author") or None,
        published=published,
    )


def _parse_json_feed(body: bytes) -> ParsedFeed:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return ParsedFeed(error=f"invalid JSON Feed: {exc}")
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        return ParsedFeed(error="JSON document is not a JSON Feed (no 'items' list)")
    entries = []
    for item in document["items"]:
        if not isinstance(item, dict):
            continue
        entries.append(ParsedEntry(
            guid=_str_or_none(item.get("id")),
            url=_str_or_none(item.get("url")),
            title=str(item.get("title") or ""),
            summary=str(item.get("summary") or ""),
            content=str(item.get("content_html") or item.get("content_text") or ""),
            author=_json_feed_author(item),
            published=_iso_datetime(item.get("date_published") or item.get("date_modified")),
        ))
    hubs = tuple(str(hub["url"]) for hub in document.get("hubs") or []
                 if isinstance(hub, dict) and hub.get("url"))
    return ParsedFeed(title=str(document.get("title") or ""), entries=entries, hub_urls=hubs,
                      self_url=_str_or_none(document.get("feed_url")))


def _json_feed_author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return ", ".join(names) or None


def _iso_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

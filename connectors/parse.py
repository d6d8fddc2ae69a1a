"""Parse feed bodies (RSS, Atom, JSON Feed) into plain entries, sanitised, never raising."""

from __future__ import annotations

import calendar
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import feedparser
import feedparser_rs
from wirewatch.connectors.charset import to_utf8


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
    link_problem: str | None = None  # why the entry's link was dropped (items.link_problem)


# feedparser-rs empties item links to loopback and private hosts (and says nothing).
PRIVATE_LINK = "private address"
# Up to this size a feed with such links is read again by feedparser to name them; beyond,
# the second (pure Python, ~15x slower) parse could cost the feed its parse timeout.
_RESTORE_LINKS_MAX_BYTES = 1024 * 1024


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
    """Parse a feed body; never raises. Malformed input keeps what parsed and sets `error`.

    XML feeds go to feedparser-rs (Rust, about 15x faster than feedparser, with a stricter
    sanitiser); feedparser gets a second try when it raises or finds no entries, since it
    reads some rare formats feedparser-rs drops (CDF, RSS 0.93/0.94, prefixed RSS). Both
    get UTF-8: the body is decoded by its HTTP charset, its XML declaration or, failing
    those, a detected encoding (noted in `error`).
    """
    body = bytes(body)  # feedparser-rs would fetch a str that looks like a URL
    is_json = "json" in content_type.lower() or body.lstrip().startswith(b"{")
    body, note = to_utf8(body, content_type, detect=not is_json)
    parsed = _guarded(_parse_json_feed, body) if is_json else _parse_xml(body)
    if note:
        parsed = replace(parsed, error=f"{parsed.error}; {note}" if parsed.error else note)
    return parsed


def _parse_xml(body: bytes) -> ParsedFeed:
    first = _guarded(_parse_with_feedparser_rs, body)
    if first.entries:
        return first
    second = _guarded(_parse_with_feedparser, body)
    return second if second.entries or not first.error else first


def _guarded(parse: Callable[[bytes], ParsedFeed], body: bytes) -> ParsedFeed:
    try:
        return _encodable(parse(body))
    except Exception as exc:  # noqa: BLE001 - a parser bug is the feed's error, not ours
        return ParsedFeed(error=f"{type(exc).__name__}: {exc}")


# A JSON string may hold a lone surrogate ("\ud800"): no UTF-8 encoder takes it, so the
# item (and with it the whole feed's publish) would fail later. U+FFFD takes its place.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(text: str | None) -> str | None:
    return _SURROGATE.sub("\ufffd", text) if text and _SURROGATE.search(text) else text


def _encodable(feed: ParsedFeed) -> ParsedFeed:
    """The feed with every string encodable as UTF-8."""
    entries = [replace(entry, guid=_clean(entry.guid), url=_clean(entry.url),
                       title=_clean(entry.title) or "", summary=_clean(entry.summary) or "",
                       content=_clean(entry.content) or "", author=_clean(entry.author))
               for entry in feed.entries]
    return replace(feed, title=_clean(feed.title) or "", entries=entries,
                   hub_urls=tuple(_clean(url) or "" for url in feed.hub_urls),
                   self_url=_clean(feed.self_url))


def _parse_with_feedparser_rs(body: bytes) -> ParsedFeed:
    result = feedparser_rs.parse(body)
    parsed = _from_parsed(result, unescape_titles=True)
    links = (result.get("feed") or {}).get("links") or []
    if any(link.get("rel") == "hub" and not link.get("href") for link in links):
        # feedparser-rs blanks hub URLs on private addresses; wirewatch's own SSRF guard
        # (with its allow-list) decides about those, so read the links with feedparser.
        full = _parse_with_feedparser(body)
        parsed = replace(parsed, hub_urls=full.hub_urls, self_url=parsed.self_url or full.self_url)
    if len(body) <= _RESTORE_LINKS_MAX_BYTES and any(e.link_problem for e in parsed.entries):
        parsed = replace(parsed, entries=_original_links(parsed.entries,
                                                         _parse_with_feedparser(body).entries))
    if parsed.error is None and (problem := _byte_problem(body)):
        # feedparser-rs repairs these silently; the feed's owner should still hear of it.
        return replace(parsed, error=problem)
    return parsed


def _original_links(entries: list[ParsedEntry], full: list[ParsedEntry]) -> list[ParsedEntry]:
    """Entries with the links feedparser-rs emptied put back as feedparser read them, so
    that the connector judges (and names) them as it does every link; an entry feedparser
    does not match keeps the bare PRIVATE_LINK note, one it reads without a link none."""
    restored = []
    for index, entry in enumerate(entries):
        other = full[index] if index < len(full) else None
        if entry.link_problem and other is not None \
                and entry.title in (other.title, html.unescape(other.title)):
            entry = replace(entry, url=other.url, link_problem=None)
        restored.append(entry)
    return restored


def _parse_with_feedparser(body: bytes) -> ParsedFeed:
    return _from_parsed(feedparser.parse(body, sanitize_html=True, resolve_relative_uris=True),
                        unescape_titles=False)


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _byte_problem(body: bytes) -> str | None:
    if _CONTROL.search(body):
        return "control characters or NUL bytes removed"
    head = body[:200].lower()
    declared_other = b"encoding=" in head and b"utf-8" not in head and b"utf8" not in head
    if not declared_other:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"invalid UTF-8 replaced ({exc.reason} at byte {exc.start})"
    return None


def _from_parsed(parsed: Any, *, unescape_titles: bool) -> ParsedFeed:
    """Read a feedparser (or feedparser-rs, same shape) result into a ParsedFeed."""
    error = None
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        error = problem if isinstance(problem, str) else f"{type(problem).__name__}: {problem}"
    feed = parsed.get("feed") or {}
    if not parsed.entries and (not feed or not parsed.get("version")):
        return ParsedFeed(error=error or "not a feed")
    entries = [_entry_from_feedparser(entry, unescape_titles) for entry in parsed.entries]
    links = [link for link in feed.get("links") or [] if hasattr(link, "get")]
    hubs = tuple(str(link.get("href")) for link in links
                 if link.get("rel") == "hub" and link.get("href"))
    self_url = next((str(link.get("href")) for link in links
                     if link.get("rel") == "self" and link.get("href")), None)
    title = str(feed.get("title") or "")
    return ParsedFeed(title=html.unescape(title) if unescape_titles else title, entries=entries,
                      error=error, ttl_minutes=_int_or_none(feed.get("ttl")), hub_urls=hubs,
                      self_url=self_url)


def _entry_from_feedparser(entry: Any, unescape_titles: bool) -> ParsedEntry:
    content = ""
    if entry.get("content"):
        content = "\n".join(str(part.get("value") or "") for part in entry.get("content"))
    title = str(entry.get("title") or "")
    published_struct = entry.get("published_parsed") or entry.get("updated_parsed")
    published = None
    if published_struct:
        try:
            published = datetime.fromtimestamp(calendar.timegm(published_struct), tz=UTC)
        except (ValueError, OverflowError, OSError):  # year 0 or past 9999: no date
            published = None
    url = entry.get("link") or None
    blanked = url is None and any(hasattr(link, "get") and link.get("href") == ""
                                  for link in entry.get("links") or [])
    return ParsedEntry(
        guid=entry.get("id") or None,
        url=url,
        title=html.unescape(title) if unescape_titles else title,
        summary=str(entry.get("summary") or ""),
        content=content,
        author=entry.get("author") or None,
        published=published,
        link_problem=PRIVATE_LINK if blanked else None,
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
    hubs = tuple(str(hub["url"]) for hub in _list(document.get("hubs"))
                 if isinstance(hub, dict) and hub.get("url"))
    return ParsedFeed(title=str(document.get("title") or ""), entries=entries, hub_urls=hubs,
                      self_url=_str_or_none(document.get("feed_url")))


def _json_feed_author(item: dict[str, Any]) -> str | None:
    authors = _list(item.get("authors")) or ([item["author"]] if item.get("author") else [])
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return ", ".join(names) or None


def _list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (a number, a string, an object) as empty."""
    return value if isinstance(value, list) else []


def _iso_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved across UTC
        return None


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None

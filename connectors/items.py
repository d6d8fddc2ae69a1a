"""Turn a parsed feed into RawItems: identity, canonical URLs, UTC dates, only safe links."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit

from wirewatch.connectors import metrics
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.identity import canonical_url, content_hash, item_id
from wirewatch.connectors.parse import PRIVATE_LINK, ParsedEntry, ParsedFeed
from wirewatch.connectors.records import RawItem

log = logging.getLogger(__name__)

# A feed clock a little ahead of ours is normal; further ahead is a wrong date.
_FUTURE_TOLERANCE = timedelta(minutes=10)
# Items taken from one fetch. Real feeds list tens to a few hundred; a feed of a million
# (a bug or an attack) must not publish a million records and their Redis bookkeeping.
# Feeds list the newest first, so the first ones are kept.
MAX_ITEMS_PER_FETCH = 1000

# Browsers drop leading and trailing C0 controls and spaces from a URL, and tabs and line
# breaks anywhere in it: " java\tscript:" runs as javascript:, so it is judged as such.
_EDGES = "".join(map(chr, range(0x21)))
_INSIDE = re.compile("[\t\n\r]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# Hosts that only mean something inside a network, as feedparser-rs judges them too.
_LOCAL_SUFFIXES = (".local", ".localhost", ".internal")
# 2130706433 or 0x7f.1: forms some resolvers read as an address; never what a site means.
_PART = r"(?:0x[0-9a-f]*|[0-9]+)"
_NUMERIC_HOST = re.compile(rf"{_PART}(?:\.{_PART}){{0,3}}", re.IGNORECASE)
_PUBLIC = AddressPolicy()
REASONS = metrics.LINK_DROP_REASONS


def _clean_link(url: str) -> str:
    return _INSIDE.sub("", url.strip(_EDGES))


def link_problem(url: str) -> tuple[str, str] | None:
    """(reason, what) when an item link may not leave the connector, else None: reason is
    one of REASONS, what the scheme ("javascript:") or the host.

    Only http(s) links to public hosts are kept: `javascript:`, `data:`, `file:` and every
    other scheme would run or open something in a reader's browser, and a private address
    points readers (and link previews) into the network they sit in. Relative links have no
    scheme: `raw_items` resolves them against the feed's URL first.
    """
    cleaned = _clean_link(url)
    scheme = _SCHEME.match(cleaned)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        return "unsafe_scheme", f"{scheme.group(1).lower()}:"
    try:
        host = (urlsplit(cleaned).hostname or "").rstrip(".").lower()
    except ValueError:  # an unbalanced [ in the host
        return "invalid_url", "an unbalanced [ in the host"
    if scheme and not host:  # "http:alert(1)": no browser would read it as a web page
        return "invalid_url", "no host"
    if _is_private_host(host):
        return "private_address", host
    return None


def _note(reason: str, what: str) -> str:
    if reason == "private_address":
        return f"link dropped: it points to a {PRIVATE_LINK} ({what})"
    if reason == "invalid_url":
        return f"link dropped: not a valid http(s) URL ({what})"
    return f"link dropped: {what} links are not kept (only http and https)"


def _reason(note: str) -> str:
    if PRIVATE_LINK in note:
        return "private_address"
    return "invalid_url" if "not a valid http(s) URL" in note else "unsafe_scheme"


def _summary(entries: list[ParsedEntry]) -> dict[str, list[str]]:
    """Dropped links by reason: the notes of the entries, each once."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        if entry.link_problem:
            found.setdefault(_reason(entry.link_problem), []).append(entry.link_problem)
    return found


def _is_private_host(host: str) -> bool:
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        return not _PUBLIC.is_allowed(ipaddress.ip_address(host))
    except ValueError:
        return bool(_NUMERIC_HOST.fullmatch(host))


def bounded(parsed: ParsedFeed, limit: int = MAX_ITEMS_PER_FETCH) -> ParsedFeed:
    """The feed as the connector takes it: at most `limit` entries, and no unsafe links.
    Both are recorded as the feed's error, so the feed's page and `feeds check` show them."""
    notes = []
    if len(parsed.entries) > limit:
        notes.append(f"kept the first {limit} of {len(parsed.entries)} items")
        parsed = replace(parsed, entries=parsed.entries[:limit])
    entries = [_vetted(entry) for entry in parsed.entries]
    for reason, dropped in sorted(_summary(entries).items()):
        kinds = sorted(set(dropped))
        example = kinds[0].removeprefix("link dropped: ")
        more = f", and {len(kinds) - 1} other kind(s)" if len(kinds) > 1 else ""
        notes.append(f"dropped {len(dropped)} item link(s) ({reason}), e.g. {example}{more}")
    if not notes:
        return parsed
    note = "; ".join(notes)
    return replace(parsed, entries=entries,
                   error=f"{parsed.error}; {note}" if parsed.error else note)


def _vetted(entry: ParsedEntry) -> ParsedEntry:
    """The entry without its link when the link may not be published (idempotent)."""
    if entry.url is None:
        return entry
    problem = link_problem(entry.url)
    return replace(entry, url=None, link_problem=_note(*problem)) if problem else entry


def raw_items(
    parsed: ParsedFeed, *, feed_id: str, feed_url: str, source: str, fetched_at: datetime,
) -> list[RawItem]:
    """Build one RawItem per entry; GUIDs reused within the feed fall back to GUID+URL, and
    an item listed twice (the same id) is taken once. A link that is not http(s), or points
    to a private address, is dropped: the item keeps a `note` saying why, and the drop is
    logged and counted."""
    entries = [_vetted(_resolved(entry, feed_url)) for entry in parsed.entries]
    _record_drops(entries, feed_url)
    guid_counts = Counter(entry.guid for entry in entries if entry.guid)
    items: dict[str, RawItem] = {}
    for entry in entries:
        content = entry.content or entry.summary
        published = entry.published
        if published is not None and published > fetched_at + _FUTURE_TOLERANCE:
            published = fetched_at  # a future date would sort the item ahead of the news
        link = canonical_url(entry.url) if entry.url else ""
        guid = entry.guid
        identity = item_id(feed_id, guid=guid, url=entry.url, title=entry.title,
                           content=content,
                           guid_collides=guid is not None and guid_counts[guid] > 1)
        if identity in items:
            continue
        items[identity] = RawItem(
            item_id=identity,
            feed_id=feed_id,
            feed_url=feed_url,
            source=source,
            url=link,
            original_url=entry.url,
            guid=entry.guid,
            title=entry.title,
            summary=entry.summary,
            content=entry.content,
            author=entry.author,
            published=published,
            fetched_at=fetched_at,
            content_hash=content_hash(entry.title, content),
            note=entry.link_problem or "",
        )
    return list(items.values())


def _resolved(entry: ParsedEntry, feed_url: str) -> ParsedEntry:
    """A relative link made absolute against the feed's URL; any other link only cleaned."""
    if entry.url is None:
        return entry
    cleaned = _clean_link(entry.url)
    if not cleaned:
        return replace(entry, url=None)
    if _SCHEME.match(cleaned):
        return replace(entry, url=cleaned) if cleaned != entry.url else entry
    return replace(entry, url=urljoin(feed_url, cleaned))


def _record_drops(entries: list[ParsedEntry], feed_url: str) -> None:
    for reason, dropped in _summary(entries).items():
        metrics.LINKS_DROPPED.labels(reason).inc(len(dropped))
        log.warning("dropped %d item link(s) of %s (%s): %s", len(dropped), feed_url, reason,
                    "; ".join(sorted(set(dropped))[:3]),
                    extra={"feed_url": feed_url, "reason": reason, "count": len(dropped)})

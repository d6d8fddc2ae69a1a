"""Turn a parsed feed into RawItems: identity, canonical URLs, UTC dates."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from wirewatch.connectors.identity import canonical_url, content_hash, item_id
from wirewatch.connectors.parse import ParsedFeed
from wirewatch.connectors.records import RawItem

# A feed clock a little ahead of ours is normal; further ahead is a wrong date.
_FUTURE_TOLERANCE = timedelta(minutes=10)
# Items taken from one fetch. Real feeds list tens to a few hundred; a feed of a million
# (a bug or an attack) must not publish a million records and their Redis bookkeeping.
# Feeds list the newest first, so the first ones are kept.
MAX_ITEMS_PER_FETCH = 1000


def bounded(parsed: ParsedFeed, limit: int = MAX_ITEMS_PER_FETCH) -> ParsedFeed:
    """The feed with at most `limit` entries; the cut is recorded as the feed's error."""
    if len(parsed.entries) <= limit:
        return parsed
    note = f"kept the first {limit} of {len(parsed.entries)} items"
    return replace(parsed, entries=parsed.entries[:limit],
                   error=f"{parsed.error}; {note}" if parsed.error else note)


def raw_items(
    parsed: ParsedFeed, *, feed_id: str, feed_url: str, source: str, fetched_at: datetime,
) -> list[RawItem]:
    """Build one RawItem per entry; GUIDs reused within the feed fall back to GUID+URL, and
    an item listed twice (the same id) is taken once."""
    guid_counts = Counter(entry.guid for entry in parsed.entries if entry.guid)
    items: dict[str, RawItem] = {}
    for entry in parsed.entries:
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
        )
    return list(items.values())

"""Check one feed: fetch and parse it and build its RawItems, without publishing anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.fetch import FetchLimits, FetchResult, fetch_feed, new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.items import bounded, raw_items
from wirewatch.connectors.parse import ParsedFeed, parse_feed
from wirewatch.connectors.records import RawItem


@dataclass(frozen=True)
class FeedCheck:
    """The outcome of checking one feed."""

    fetch: FetchResult
    parsed: ParsedFeed
    items: list[RawItem]


async def check_feed(url: str, *, policy: AddressPolicy,
                     limits: FetchLimits = FetchLimits()) -> FeedCheck:
    """Fetch and parse `url` as the connector would (raises FetchError when fetching fails)."""
    spec = FeedSpec(url=url)
    async with new_session(policy) as session:
        result = await fetch_feed(session, url, policy=policy, limits=limits)
    # bounded: the same cut and link checks as the connector's, noted in `parsed.error`
    parsed = bounded(parse_feed(result.body, result.content_type)) if result.status == 200 \
        else ParsedFeed(error=f"HTTP {result.status}")
    items = raw_items(parsed, feed_id=spec.feed_id, feed_url=url,
                      source=urlsplit(url).hostname or url, fetched_at=datetime.now(UTC))
    return FeedCheck(result, parsed, items)

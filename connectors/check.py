"""Check one feed: fetch and parse it and build its RawItems (with their article pages'
text, if asked), without publishing anything."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.fetch import FetchLimits, FetchResult, fetch_feed, new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.items import bounded, raw_items
from wirewatch.connectors.pages import PageFetcher, needs_page
from wirewatch.connectors.parse import ParsedFeed, parse_feed
from wirewatch.connectors.records import RawItem


@dataclass(frozen=True)
class FeedCheck:
    """The outcome of checking one feed."""

    fetch: FetchResult
    parsed: ParsedFeed
    items: list[RawItem]
    # With full text: each item id whose page was wanted, and what came of it (an outcome
    # of metrics.PAGE_OUTCOMES).
    pages: dict[str, str] = field(default_factory=dict)


async def check_feed(url: str, *, policy: AddressPolicy, limits: FetchLimits = FetchLimits(),
                     full_text: str = "never", min_words: int = 80, rate: float = 1.0,
                     resolver: AbstractResolver | None = None) -> FeedCheck:
    """Fetch and parse `url` as the connector would (raises FetchError when fetching fails);
    with `full_text` auto or always, fetch the items' pages as the connector would too."""
    spec = FeedSpec(url=url)
    async with new_session(policy, resolver=resolver) as session:
        result = await fetch_feed(session, url, policy=policy, limits=limits)
        checked = _built(spec, result)
        if full_text != "never":
            return await _with_pages(checked, session, policy, limits, full_text, min_words,
                                     rate)
    return checked


def _built(spec: FeedSpec, result: FetchResult) -> FeedCheck:
    url = spec.url
    # bounded: the same cut and link checks as the connector's, noted in `parsed.error`
    parsed = bounded(parse_feed(result.body, result.content_type)) if result.status == 200 \
        else ParsedFeed(error=f"HTTP {result.status}")
    items = raw_items(parsed, feed_id=spec.feed_id, feed_url=url,
                      source=urlsplit(url).hostname or url, fetched_at=datetime.now(UTC))
    return FeedCheck(result, parsed, items)


async def _with_pages(checked: FeedCheck, session: aiohttp.ClientSession,
                      policy: AddressPolicy, limits: FetchLimits, mode: str, min_words: int,
                      rate: float) -> FeedCheck:
    pages = PageFetcher(session, policy=policy, limits=limits, min_words=min_words, rate=rate,
                        queue_size=max(1, len(checked.items)))
    done: dict[str, tuple[RawItem, str]] = {}

    async def deliver(item: RawItem, outcome: str) -> None:
        done[item.item_id] = (item, outcome)

    for item in checked.items:
        if needs_page(item, mode, min_words):
            pages.offer(item)
    fetching = asyncio.create_task(pages.run(deliver))
    try:
        await pages.join()
    finally:
        fetching.cancel()
        await asyncio.gather(fetching, return_exceptions=True)
    items = [done[item.item_id][0] if item.item_id in done else item for item in checked.items]
    return FeedCheck(checked.fetch, checked.parsed, items,
                     {item_id: outcome for item_id, (_, outcome) in done.items()})

"""The RawItem wire record: one feed item as fetched, the payload of news.raw.v1."""

from __future__ import annotations

from datetime import datetime

import msgspec


class RawItem(msgspec.Struct, frozen=True, kw_only=True):
    """One item of one feed, as fetched and identified, before any stream processing.

    Example:
        >>> RawItem(item_id="a1", feed_id="f1", feed_url="https://x/rss", source="x",
        ...         url="https://x/a", title="T", fetched_at=datetime(2026, 1, 1))
    """

    item_id: str
    feed_id: str
    feed_url: str
    source: str
    url: str
    title: str
    fetched_at: datetime
    guid: str | None = None
    original_url: str | None = None
    summary: str = ""
    content: str = ""
    author: str | None = None
    published: datetime | None = None
    content_hash: str = ""
    is_update: bool = False
    # Why the connector changed the item, e.g. "link dropped: javascript: links are not kept
    # (only http and https)" (added within v1: "" in records written before notes).
    note: str = ""
    # Where `content` came from: "feed", or "page" when the connector fetched the article
    # page and its main text said more than the feed (added within v1: "feed" before).
    text_source: str = "feed"


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(RawItem)


def encode_raw_item(item: RawItem) -> bytes:
    """Serialise a RawItem to JSON bytes."""
    return _encoder.encode(item)


def decode_raw_item(data: bytes) -> RawItem:
    """Parse and validate JSON bytes as a RawItem (raises msgspec.ValidationError)."""
    return _decoder.decode(data)

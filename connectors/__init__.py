"""Feed ingestion: fetch, parse and identify feed items, then publish them as RawItems to Kafka."""

from wirewatch.connectors.errors import ConnectorError, FeedFileError, FetchError
from wirewatch.connectors.feeds_file import FeedSpec, load_feeds, load_opml
from wirewatch.connectors.identity import canonical_url, item_id
from wirewatch.connectors.records import RawItem

__all__ = [
    "ConnectorError",
    "FeedFileError",
    "FeedSpec",
    "FetchError",
    "RawItem",
    "canonical_url",
    "item_id",
    "load_feeds",
    "load_opml",
]

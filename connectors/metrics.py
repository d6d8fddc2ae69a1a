"""Feed metrics (Prometheus): fetch latency, responses by status, errors, items published,
and the article pages fetched for full text."""

from prometheus_client import Counter, Gauge, Histogram
from wirewatch.connectors.errors import BlockedAddressError, FetchError

FETCH_SECONDS = Histogram("wirewatch_feed_fetch_seconds", "Time to fetch one feed.",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RESPONSES = Counter("wirewatch_feed_responses", "Feed fetches by HTTP status (0: no response).",
                    ["status"])
ERRORS = Counter("wirewatch_feed_errors", "Failed polls by error class.", ["error_class"])
PUBLISHED = Counter("wirewatch_feed_items_published", "Items published to news.raw.v1.")
LINK_DROP_REASONS = ("unsafe_scheme", "private_address", "invalid_url")
LINKS_DROPPED = Counter("wirewatch_feed_item_links_dropped",
                        "Item links the connector dropped (the item is kept, with a note), by "
                        "reason: unsafe_scheme (not http or https), private_address, "
                        "invalid_url.",
                        ["reason"])
PAGE_OUTCOMES = ("queued", "fetched", "not_modified", "failed", "skipped_by_robots",
                 "queue_full", "kept_feed_text")
PAGES = Counter("wirewatch_page_fetches",
                "Article pages for full text, by outcome: queued (waiting for its fetch), "
                "fetched (the page's text used), not_modified (304: the text fetched before "
                "used), failed (fetch or extraction; the feed's text kept), skipped_by_robots "
                "(robots.txt disallows it or could not be read), queue_full (not queued: "
                "published with the feed's text), kept_feed_text (the page said less).",
                ["outcome"])
PAGE_QUEUE = Gauge("wirewatch_page_queue", "Items waiting for their article page.")
PAGE_SECONDS = Histogram("wirewatch_page_fetch_seconds", "Time to fetch one article page.",
                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

# The error classes the poller records (connectors.poller): the fetch errors by class name,
# a status other than 200/304, and a feed that did not parse. A crash records its
# exception's class, which cannot be listed ahead.
KNOWN_ERROR_CLASSES = (FetchError.__name__, BlockedAddressError.__name__, "HTTPStatus",
                       "ParseError")
KNOWN_STATUSES = ("0", "200", "304")  # no response, fetched, unchanged


def initialise() -> None:
    """Export the known error classes and statuses at zero, so `increase()` and `rate()`
    see the first failure (a labelled series is exported only once it is touched)."""
    for error_class in KNOWN_ERROR_CLASSES:
        ERRORS.labels(error_class)
    for status in KNOWN_STATUSES:
        RESPONSES.labels(status)
    for reason in LINK_DROP_REASONS:
        LINKS_DROPPED.labels(reason)
    for outcome in PAGE_OUTCOMES:
        PAGES.labels(outcome)

"""Feed metrics (Prometheus): fetch latency, responses by status, errors, items published."""

from prometheus_client import Counter, Histogram

FETCH_SECONDS = Histogram("wirewatch_feed_fetch_seconds", "Time to fetch one feed.",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RESPONSES = Counter("wirewatch_feed_responses", "Feed fetches by HTTP status (0: no response).",
                    ["status"])
ERRORS = Counter("wirewatch_feed_errors", "Failed polls by error class.", ["error_class"])
PUBLISHED = Counter("wirewatch_feed_items_published", "Items published to news.raw.v1.")

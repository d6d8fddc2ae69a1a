"""Stream metrics (Prometheus): per-stage flow and time, dedupe, lag, DLQ, connectivity
and the fill level of in-process caches."""

from collections.abc import Callable, Iterable

from prometheus_client import Counter, Gauge, Histogram

STAGE_ITEMS = Counter("wirewatch_stage_items", "Records a stage took in or wrote out.",
                      ["stage", "direction"])
STAGE_SECONDS = Histogram("wirewatch_stage_batch_seconds", "Time a stage spent on one batch.",
                          ["stage"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
                                              0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1, 2.5, 5))
STAGE_BATCH = Histogram("wirewatch_stage_batch_size", "Records per batch a stage took in.",
                        ["stage"], buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
WRITES_RETRIED = Counter("wirewatch_writes_retried",
                         "Output records the broker did not take, sent again.", ["topic"])
DEAD_LETTERS = Counter("wirewatch_stage_dead_lettered", "Records a stage refused (to the DLQ).",
                       ["stage"])
ARTICLES = Counter("wirewatch_articles", "Articles by what dedupe made of them.", ["kind"])
EVENTS = Counter("wirewatch_event_stories",
                 "New stories by what event assignment made of them (new or joined).", ["kind"])
EVENTS_BATCH = Histogram("wirewatch_events_batch_seconds",
                         "Time event assignment spent on one normalise batch.",
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15,
                                  0.25, 0.35, 0.5, 0.75, 1, 2.5, 5))
CONSUMER_LAG = Gauge("wirewatch_consumer_lag", "High-water mark minus committed offset.",
                     ["topic", "partition"])
TOPIC_RECORDS = Gauge("wirewatch_topic_records",
                      "Records ever written to a topic (sum of its high-water marks).", ["topic"])
DLQ_RECORDS = Gauge("wirewatch_dlq_records", "Records in the dead-letter topic.")
FEEDS = Gauge("wirewatch_feeds", "Feeds by health.", ["state"])
UP = Gauge("wirewatch_dependency_up", "1 when the last check reached the dependency.",
           ["dependency"])
ASYNCIO_TASKS = Gauge("wirewatch_asyncio_tasks",
                      "Tasks alive on the worker's event loop: flat in a healthy worker.")
CACHE_ENTRIES = Gauge("wirewatch_cache_entries",
                      "Entries in a bounded in-process cache: memory grows until it is full.",
                      ["cache"])
CACHE_CAPACITY = Gauge("wirewatch_cache_capacity",
                       "The most entries a bounded in-process cache keeps.", ["cache"])


def watch_cache(name: str, entries: Callable[[], float], capacity: int) -> None:
    """Export a bounded cache's fill level, read when /metrics is scraped."""
    CACHE_ENTRIES.labels(name).set_function(entries)
    CACHE_CAPACITY.labels(name).set(capacity)


DIRECTIONS = ("in", "out")
ARTICLE_KINDS = ("duplicate", "new_story")
EVENT_KINDS = ("new", "joined")


def initialise(stages: Iterable[str]) -> None:
    """Export the stages' counters at zero, so `increase()` sees a stage's first dead letter.

    prometheus_client only exports a labelled series once it is touched; a series that
    appears already at 1 has no earlier sample, and `increase()` over it is empty."""
    for stage in stages:
        for direction in DIRECTIONS:
            STAGE_ITEMS.labels(stage, direction)
        DEAD_LETTERS.labels(stage)
    for kind in ARTICLE_KINDS:
        ARTICLES.labels(kind)
    for kind in EVENT_KINDS:
        EVENTS.labels(kind)

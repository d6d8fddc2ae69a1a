"""`wirewatch demo`: bundled sample feeds served on loopback, and the demo subscriptions."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from wirewatch.alerts.subscriptions import Subscription
from wirewatch.connectors.feeds_file import FeedSpec

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_FEEDS = (
    ("wire-daily.xml", "Wire Daily"),
    ("techpulse-atom.xml", "TechPulse"),
    ("marketbrief.json", "MarketBrief"),
)


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".xml": "application/rss+xml", ".json": "application/feed+json"}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@contextlib.contextmanager
def serve_samples(directory: Path = SAMPLES) -> Iterator[str]:
    """Serve the sample feeds on a free loopback port; yields the base URL."""
    with serve_loopback(functools.partial(_QuietHandler, directory=str(directory))) as url:
        yield url


@contextlib.contextmanager
def serve_loopback(handler: Callable[..., BaseHTTPRequestHandler],
                   name: str = "demo-feeds") -> Iterator[str]:
    """Serve `handler` from a thread on a free loopback port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def demo_feeds(base_url: str) -> list[FeedSpec]:
    # The samples carry their whole text, and their links name *.example sites: never
    # fetch those pages (a DNS lookup each, and nothing there).
    return [FeedSpec(url=f"{base_url}/{name}", name=title, interval_seconds=30.0,
                     full_text="never") for name, title in SAMPLE_FEEDS]


def demo_subscriptions() -> list[Subscription]:
    return [
        Subscription.create(name="OpenAI safety and leadership", owner="demo",
                            query="entity:openai AND (topic:ai-safety OR "
                                  "topic:leadership-change)"),
        Subscription.create(name="Microsoft earnings", owner="demo",
                            query="entity:microsoft AND topic:earnings"),
    ]

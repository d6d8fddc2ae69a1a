"""Hostile feed content on the dashboard: escaped everywhere, and no script links.

tests/unit/streams/test_ops.py checks that a sparkline escapes its label, and
tests/unit/streams/test_subscription_pages.py drives the subscription pages over HTTP; no
test so far put feed-controlled text on the dashboard itself. Here a hostile JSON Feed goes
through the real parser, identity and normalise code into the activity streams in a real
Redis, a hostile feed row and error into the health snapshot, and the dashboard is fetched
over HTTP on loopback (the same operations_app and TestServer set-up as the subscription
page tests). The page must carry the feed's `<script>`, `<img onerror>` and quote-breaking
text only as escaped text: the same elements and attributes as a page with benign data,
and one script element, our own.

A story's link is the item's URL as the feed wrote it; the dashboard makes a link of it only
when it is an absolute http(s) URL (wirewatch.alerts.escape.safe_url), so a `javascript:` or `data:`
link from a feed is shown as text, never as something to click.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from markupsafe import escape
from wirewatch.connectors.items import raw_items
from wirewatch.connectors.parse import parse_feed
from wirewatch.streams.dedupe import StoryAssignment
from wirewatch.streams.ops.activity import Activity, Circuit
from wirewatch.streams.ops.lag import PartitionLag
from wirewatch.streams.ops.monitor import FeedRow, Monitor, Snapshot
from wirewatch.streams.ops.web import WebConfig, operations_app
from wirewatch.streams.stages import build_article, clean_raw

from tests.support.alerts import make_alert

pytestmark = pytest.mark.redis

SCRIPT = "<script>alert('xss')</script>"
IMG = '<img src=x onerror="alert(1)">'
QUOTES = "\" onmouseover=\"alert(2)\" x='"
# Titles are normalised (markup stripped, entities decoded) before the dashboard sees them:
# markup written as entities is what arrives as literal "<script>" text.
HOSTILE_FEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
    {"id": "1", "url": "javascript:alert(document.cookie)",
     "title": html.escape(SCRIPT) + " one", "content_html": f"<p>{IMG}</p>"},
    {"id": "2", "url": "JaVaScRiPt:alert(3)", "title": f"{QUOTES} two"},
    {"id": "3", "url": " data:text/html;base64,PHNjcmlwdD5hbGVydCg0KTwvc2NyaXB0Pg==",
     "title": html.escape(IMG) + " three"},
    {"id": "4", "url": "https://news.example/4",
     "title": "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;b&gt;four " + SCRIPT},
]}).encode()
BENIGN_FEED = json.dumps({"items": [{"id": "1", "url": "https://news.example/1",
                                     "title": "Plain one"}]}).encode()
NOW = time.time()


class Page(HTMLParser):
    """Elements, attributes and script bodies of a page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: set[str] = set()
        self.attributes: set[tuple[str, str]] = set()
        self.hrefs: list[str] = []
        self.scripts = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.add(tag)
        self.scripts += tag == "script"
        for name, value in attrs:
            self.attributes.add((tag, name))
            if tag == "a" and name == "href":  # (the head's own icon is href="data:,")
                self.hrefs.append(value or "")


def feed_row(name: str, url: str, error: str) -> FeedRow:
    return FeedRow(feed_id="f1", name=name, url=url, state="failing", last_status=500,
                   last_success=NOW - 60, last_error=error, error_streak=4, items_published=3,
                   items_per_day=1.5, next_poll=NOW + 60)


def snapshot(feeds: list[FeedRow], errors: list[str], circuit_error: str) -> Snapshot:
    return Snapshot(
        circuits=[Circuit("team-slack", "open", NOW - 30, 5, circuit_error, "worker-1")],
        taken_at=NOW, kafka_ok=True, redis_ok=True, errors=errors,
        lag=[PartitionLag("news.raw.v1", 0, 10, 5)], topic_records={"news.raw.v1": 10},
        feeds=feeds, stages={"normalise": {"in": 4.0, "out": 4.0, "in_per_s": 0.1,
                                           "out_per_s": 0.1}},
        dead_lettered={}, alerts={"sent": 1.0, "retried": 0.0, "dead_lettered": 1.0},
        articles={"new_story": 4.0, "duplicate": 0.0})


async def dashboard_html(client: aioredis.Redis, prefix: str, feed: bytes, row: FeedRow,
                         errors: list[str], delivery_title: str,
                         detail: str, circuit_error: str) -> tuple[str, dict[str, str]]:
    """Run the feed through parse, identity and normalise into the activity streams, then
    fetch the dashboard over HTTP on loopback."""
    activity = Activity(client, prefix=prefix)
    parsed = parse_feed(feed, "application/feed+json")
    items = raw_items(parsed, feed_id="f1", feed_url="https://feeds.example/f",
                      source=row.name, fetched_at=datetime.now(UTC))
    articles = []
    for item in items:
        title, text = clean_raw(item)
        articles.append(build_article(item, title, text, StoryAssignment(
            story_id=f"story-{item.item_id[:8]}", is_duplicate=False, duplicate_of=None,
            similarity=0.0)))
    await activity.record_articles(articles)
    await activity.record_delivery(make_alert(title=delivery_title), "team-slack",
                                   "dead-lettered", detail)
    monitor = Monitor(bootstrap="127.0.0.1:1", group="g", consumed=[], sized=[],
                      dlq_topic="dlq", redis_client=client, redis_prefix=prefix, feeds=list)
    monitor.latest = snapshot([row], errors, circuit_error)
    server = TestServer(operations_app(WebConfig(
        monitor=monitor, activity=activity, bootstrap="127.0.0.1:1", dlq_topic="dlq",
        max_lag=10)), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http, http.get(server.make_url("/")) as response:
            assert response.status == 200
            return await response.text(), dict(response.headers)
    finally:
        await server.close()


@pytest.fixture
async def pages(redis_client: aioredis.Redis,
                unique: str) -> AsyncIterator[dict[str, tuple[str, dict[str, str]]]]:
    benign = await dashboard_html(
        redis_client, f"{unique}:benign:", BENIGN_FEED,
        feed_row("Example News", "https://feeds.example/f", "HTTP 500"), ["Kafka: timeout"],
        "Plain delivery", "http-500", "HTTP 503")
    hostile = await dashboard_html(
        redis_client, f"{unique}:hostile:", HOSTILE_FEED,
        feed_row(f"{SCRIPT} feed", "https://feeds.example/f?a=\"&b=<x>", f"{IMG} parse error"),
        [f"Redis: {SCRIPT}"], f"{QUOTES} delivery {SCRIPT}", f"{IMG} detail",
        f"{SCRIPT} slack said")
    yield {"benign": benign, "hostile": hostile}
    keys = [key async for key in redis_client.scan_iter(f"{unique}:*")]
    if keys:
        await redis_client.delete(*keys)


async def test_feed_text_on_the_dashboard_is_only_escaped_text(pages: dict[str, Any]) -> None:
    (benign_html, _), (text, headers) = pages["benign"], pages["hostile"]
    benign, hostile = Page(benign_html), Page(text)
    # The hostile page has no element or attribute the benign page lacks: no <img>, no
    # onerror/onmouseover, no second script; the stories and the failing feed are shown.
    assert hostile.elements <= benign.elements, hostile.elements - benign.elements
    assert hostile.attributes <= benign.attributes, hostile.attributes - benign.attributes
    assert hostile.scripts == benign.scripts == 1
    for raw in (SCRIPT, IMG, "<b>four", "onmouseover=\"alert"):
        assert raw not in text
    for shown in (f"{SCRIPT} one", f"{IMG} three", "</td></tr></table><b>four",  # stories
                  f"{QUOTES} two", f"{SCRIPT} feed",  # a story; the feed row and its problem
                  f"{IMG} parse error", f"{QUOTES} delivery {SCRIPT}", f"{IMG} detail",
                  f"{SCRIPT} slack said"):  # a paused channel's last error
        assert str(escape(shown)) in text, shown  # as Jinja2's autoescape writes it
    assert "nosniff" in headers["X-Content-Type-Options"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]  # scripts need the nonce


async def test_the_dashboard_links_to_no_script_or_data_url(pages: dict[str, Any]) -> None:
    text, _ = pages["hostile"]
    for href in Page(text).hrefs:
        scheme = "".join(href.split()).partition(":")[0].lower() if ":" in href else ""
        assert scheme in ("", "http", "https"), href

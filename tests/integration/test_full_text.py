"""End to end: a summary-only feed's item is tagged and alerted from its full article page.

A loopback site serves the feed (news.test resolves to 127.0.0.1 through a test resolver),
the article pages and robots.txt. The connector runs in this process with its page fetcher;
`wirewatch run` (no feeds of its own) tags and alerts what it publishes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from wirewatch.alerts.records import decode_alert
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.fetch import new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.pages import PageFetcher
from wirewatch.connectors.poller import FeedPoller
from wirewatch.connectors.publish import RawItemPublisher, new_producer
from wirewatch.connectors.records import decode_raw_item
from wirewatch.connectors.state import FeedStateStore
from wirewatch.streams.embedded import free_port
from wirewatch.streams.records import TaggedArticle, decode

from tests.integration.test_connector import read_all
from tests.support.processes import wait_for, wirewatch_env
from tests.unit.connectors.test_pages import LoopbackResolver, Site, article_html, article_site

pytestmark = [pytest.mark.kafka, pytest.mark.redis]

# Neither Microsoft nor earnings are named in the feed: only the article page says so.
FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Terse wire</title>
<item><title>Cloud company posts its quarter</title><link>{base}/markets/q1</link>
<guid>q1</guid><description>A company reported on Friday.</description></item>
<item><title>Members only</title><link>{base}/private/club</link><guid>club</guid>
<description>Read on.</description></item>
</channel></rss>"""
ARTICLE = [
    "Microsoft said on Friday its quarterly profit rose 18 percent, lifted by demand for "
    "its Azure cloud services and AI tools from corporate customers.",
    "The quarterly results beat estimates from analysts, and net income for the quarter "
    "reached a record as revenue from cloud contracts grew.",
    "Microsoft raised its guidance for the full year, and its shares rose in late trading "
    "after the company published the figures.",
    "Executives told analysts on a call that spending on data centres would keep growing "
    "through the coming year to meet the demand for AI services.",
]
SUBSCRIPTIONS = """
subscriptions:
  - name: Microsoft earnings
    owner: test
    query: entity:microsoft AND topic:earnings
"""


async def test_a_summary_only_feed_alerts_from_the_full_article(
        broker, redis_server, redis_client, unique, topic_factory, tmp_path: Path):
    topics = await topic_factory(prefix=f"{unique}.")
    policy = AddressPolicy(["127.0.0.1/32"])
    site = Site(robots={"news.test": (200, "User-agent: *\nDisallow: /private/\n")})
    async with article_site(site):
        base = f"http://news.test:{site.port}"
        site.pages = {"/feed.xml": FEED.format(base=base), "/markets/q1": article_html(ARTICLE),
                      "/private/club": article_html(ARTICLE)}
        producer = new_producer(broker.bootstrap, idempotent=broker.idempotent,
                                client_id=unique)
        await producer.start()
        session = new_session(policy, resolver=LoopbackResolver())
        try:
            spec = FeedSpec(url=f"{base}/feed.xml", name="Terse wire")
            pages = PageFetcher(session, policy=policy, rate=100)
            poller = FeedPoller([spec], session=session, policy=policy, pages=pages,
                                store=FeedStateStore(redis_client, prefix=f"{unique}:"),
                                publisher=RawItemPublisher(producer, topics.raw))
            fetching = asyncio.create_task(poller.fetch_pages())
            try:
                [first] = await poller.poll_due()
                assert pages.waiting_for(spec.feed_id)  # the item waits for its page...
                state = await poller.store.load(spec.feed_id)
                assert state.etag is None  # ...so the feed's validators wait too
                await asyncio.wait_for(pages.join(), 60)
                second = await poller.poll_one(spec, await poller.store.load(spec.feed_id))
            finally:
                fetching.cancel()
                await asyncio.gather(fetching, return_exceptions=True)
        finally:
            await session.close()
            await producer.stop()

    assert first.published == 0  # both items went to the page queue
    assert (second.status, second.published) == (200, 0)  # remembered once published
    assert (await poller.store.load(spec.feed_id)).etag == '"p1"'
    assert [path for _, path, _ in site.requests() if path != "/feed.xml"] == [
        "/robots.txt", "/markets/q1"]  # robots.txt read once; the private page never
    raw = {item.guid: item for item in (decode_raw_item(record.value) for record in
                                        await read_all(broker.bootstrap, topics.raw, 2))}
    assert raw["q1"].text_source == "page" and "Azure cloud" in raw["q1"].content
    assert raw["club"].text_source == "feed" and raw["club"].content == ""

    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(SUBSCRIPTIONS)
    env = wirewatch_env(
        WIREWATCH_KAFKA_BOOTSTRAP=broker.bootstrap, WIREWATCH_REDIS_URL=redis_server,
        WIREWATCH_TOPIC_PREFIX=f"{unique}.", WIREWATCH_APP_ID=f"ww-{unique}",
        WIREWATCH_REDIS_PREFIX=f"{unique}:", WIREWATCH_DATA_DIR=str(tmp_path / "data"),
        WIREWATCH_WEB_PORT=str(free_port()),
        WIREWATCH_KAFKA_IDEMPOTENCE=str(broker.idempotent).lower())
    log_file = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "wirewatch", "run", "--subscriptions", str(subscriptions)],
        env=env, stdout=subprocess.PIPE, stderr=log_file, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout or []), daemon=True)
    reader.start()
    try:
        tagged = [decode(r.value, TaggedArticle) for r in
                  await read_all(broker.bootstrap, topics.tagged, expected=2, timeout=90)]
        alerts = [decode_alert(r.value) for r in
                  await read_all(broker.bootstrap, topics.alerts, expected=1, timeout=90)]
        await asyncio.to_thread(wait_for, lambda: any(
            line.startswith("ALERT ") for line in list(lines)), 60, "the alert")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        reader.join(10)
        if worker.stdout is not None:
            worker.stdout.close()
        log_file.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-3000:]
    by_title = {t.article.title: t for t in tagged}
    quarter = by_title["Cloud company posts its quarter"]
    assert "earnings" in quarter.topics
    assert [e.id for e in quarter.entities] == ["microsoft"]
    assert not by_title["Members only"].entities
    assert [a.subscription_id for a in alerts] == ["microsoft-earnings"]
    assert [line.rstrip("\n") for line in lines if line.startswith("ALERT ")] == [
        "ALERT [Microsoft earnings] Cloud company posts its quarter"]

"""Benchmark full text: extraction quality and speed, and the connector's cycle with pages.

Article pages in real-world shapes (navigation, cookie walls, related links, newsletter
boxes, comments; semantic and div-soup markup) whose article sentences are known. Prints
JSON: sentence precision/recall of wirewatch's extraction (trafilatura, precision mode, no
comments) against trafilatura's defaults and readability-lxml in the same run; pages/s
of one parser worker; and the cycle of summary-only feeds with `auto` on (each feed on a
host of its own, 10 % of its items new and needing their page) against the same cycle
with full text off, then the time until every page is fetched and published.
Usage: python bench/full_text.py [--feeds 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import re
import socket
import tempfile
import time
from pathlib import Path

import lxml.html
import readability
import redis.asyncio as aioredis
import trafilatura
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from wirewatch.connectors.extract import extract_text
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.fetch import new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.pages import PageFetcher
from wirewatch.connectors.parse_pool import ParserPool
from wirewatch.connectors.poller import FeedPoller
from wirewatch.connectors.publish import RawItemPublisher, new_producer
from wirewatch.connectors.state import FeedStateStore
from wirewatch.streams.embedded import free_port, start_redis, start_tansu
from wirewatch.streams.topics import TopicNames, ensure_topics

WORDS = ("company market shares quarter revenue growth analysts investors regulators "
         "factory workers contract government minister election budget energy prices "
         "supply demand export import technology software cloud chips battery vehicle "
         "bank rates inflation forecast profit losses strike union court ruling appeal").split()
NAMES = ("Acme", "Borealis", "Cygnet", "Dunmore", "Elstree", "Fenwick", "Galloway", "Hartley")


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(14, 24))]
    words.insert(rng.randint(0, 5), rng.choice(NAMES))
    return " ".join(words).capitalize() + "."


def furniture(rng: random.Random) -> dict[str, str]:
    """Page parts that are not the article; their sentences must not be extracted."""
    related = "".join(f"<li><a href='/r/{n}'>{sentence(rng)}</a></li>" for n in range(6))
    comments = "".join(f"<div class='comment'><span class='author'>reader{n}</span><p>"
                       f"{sentence(rng)} {sentence(rng)}</p></div>" for n in range(5))
    return {
        "nav": "<nav class='menu'><ul>" + "".join(
            f"<li><a href='/{w}'>{w.title()}</a></li>" for w in WORDS[:12]) + "</ul></nav>",
        "cookie": "<div id='cookie-banner' class='consent-modal'><p>We and our 842 partners "
                  "use cookies and similar technologies to store and access information on "
                  "your device, to personalise ads and content and to measure audiences."
                  "</p><button>Accept all</button><button>Manage choices</button></div>",
        "related": f"<aside class='related-articles'><h3>Related</h3><ul>{related}</ul></aside>",
        "newsletter": "<div class='newsletter-signup'><p>Get the morning briefing in your "
                      "inbox every weekday before markets open.</p><input type='email'>"
                      "</div>",
        "comments": f"<section id='comments' class='comments'><h3>5 comments</h3>{comments}"
                    "</section>",
        "footer": "<footer><p>Copyright 2026 Example Media Group. All rights reserved.</p>"
                  "<a href='/privacy'>Privacy</a></footer>",
    }


def article_page(index: int) -> tuple[str, list[str]]:
    """One page and its article's sentences; the shape varies with `index`."""
    rng = random.Random(index)
    gold = [sentence(rng) for _ in range(rng.randint(6, 16))]
    parts = furniture(rng)
    paragraphs = "".join(f"<p>{' '.join(gold[n:n + 2])}</p>" for n in range(0, len(gold), 2))
    title = f"{rng.choice(NAMES)} {rng.choice(WORDS)} {rng.choice(WORDS)}"
    shape = index % 4
    if shape == 0:  # semantic markup
        body = (f"{parts['cookie']}{parts['nav']}<main><article><h1>{title}</h1>"
                f"<time>2026-12-01</time>{paragraphs}</article>{parts['related']}"
                f"{parts['comments']}</main>{parts['footer']}")
    elif shape == 1:  # div soup, the newsletter box inside the story
        middle = len(paragraphs) // 2
        cut = paragraphs.find("<p>", middle)
        story = paragraphs[:cut] + parts["newsletter"] + paragraphs[cut:]
        body = (f"<div class='header'>{parts['nav']}</div><div class='wrapper'><div "
                f"class='story-body'><h1>{title}</h1>{story}</div><div class='sidebar'>"
                f"{parts['related']}</div></div>{parts['comments']}{parts['footer']}"
                f"{parts['cookie']}")
    elif shape == 2:  # a cookie wall first and comments longer than the story
        body = (f"{parts['cookie']}<div class='page'>{parts['nav']}<div class='content'>"
                f"<h1>{title}</h1>{paragraphs}</div>{parts['comments']}"
                f"{parts['comments']}</div>{parts['related']}{parts['footer']}")
    else:  # related teasers before the story
        body = (f"{parts['nav']}{parts['related']}<article class='post'><header><h1>{title}"
                f"</h1></header><div class='entry-content'>{paragraphs}</div></article>"
                f"{parts['newsletter']}{parts['comments']}{parts['footer']}")
    return (f"<!doctype html><html><head><title>{title}</title></head><body>{body}"
            "</body></html>"), gold


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower().removesuffix(".")


def sentence_scores(extracted: str, gold: list[str]) -> tuple[int, int, int]:
    """(gold sentences found, extracted sentences that are gold, extracted sentences).
    Pieces under four words (headings, buttons, bylines) are not counted either way."""
    golden = {_normal(s) for s in gold}
    pieces = [_normal(p) for p in re.split(r"(?<=[.!?])\s+|\n+", extracted)]
    pieces = [p for p in pieces if len(p.split()) >= 4]
    found = set(pieces)
    return len(golden & found), sum(p in golden for p in pieces), len(pieces)


def readability_text(page: str) -> str:
    summary = readability.Document(page).summary(html_partial=True)
    tree = lxml.html.fromstring(summary)
    return "\n".join(p.text_content() for p in tree.iter("p", "li", "h1", "h2", "h3", "div")
                     if p.text and p.text.strip())


def quality(pages: int) -> dict[str, dict[str, float]]:
    extractors = {
        "wirewatch": lambda page: extract_text(page.encode(), "https://news.test/a") or "",
        "trafilatura_defaults": lambda page: trafilatura.extract(page) or "",
        "readability_lxml": readability_text,
    }
    totals = {name: [0, 0, 0, 0] for name in extractors}  # recalled, gold, correct, extracted
    for index in range(pages):
        page, gold = article_page(index)
        for name, extract in extractors.items():
            recalled, correct, extracted = sentence_scores(extract(page), gold)
            total = totals[name]
            total[0] += recalled
            total[1] += len(gold)
            total[2] += correct
            total[3] += extracted
    return {name: {"precision": round(t[2] / max(t[3], 1), 3), "recall": round(t[0] / t[1], 3)}
            for name, t in totals.items()}


async def pages_per_second(seconds: float) -> float:
    pool = ParserPool(workers=1, timeout=30)
    corpus = [article_page(i)[0].encode() for i in range(40)]
    try:
        await pool.extract(corpus[0], "https://news.test/a")  # start the worker first
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            await pool.extract(corpus[done % len(corpus)], "https://news.test/a")
            done += 1
        return done / (time.perf_counter() - started)
    finally:
        pool.close()


class LoopbackResolver(AbstractResolver):
    """feed{i}.bench.test is 127.0.0.1: a thousand hosts for pacing on one local server."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


ITEMS_PER_FEED = 10


def summary_feed(index: int, items: int, port: int) -> bytes:
    entries = "".join(
        f"<item><title>Story {n} of feed {index}</title>"
        f"<link>http://feed{index}.bench.test:{port}/story/{index}/{n}</link>"
        f"<guid>f{index}-s{n}</guid><description>{sentence(random.Random(index * 100 + n))}"
        "</description></item>" for n in range(items))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
            f"{entries}</channel></rss>").encode()


def serve(port: int, ready: multiprocessing.synchronize.Event,
          items: multiprocessing.sharedctypes.Synchronized) -> None:  # pragma: no cover
    corpus = [article_page(i)[0] for i in range(40)]

    async def feed(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        return web.Response(body=summary_feed(index, items.value, port),
                            content_type="application/rss+xml")

    async def story(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        return web.Response(text=corpus[index % len(corpus)], content_type="text/html")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private/\n")

    app = web.Application()
    app.router.add_get("/feed/{index}", feed)
    app.router.add_get("/story/{index}/{n}", story)
    app.router.add_get("/robots.txt", robots)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def cycle(feeds: int, concurrency: int) -> dict[str, object]:
    scratch = Path(tempfile.mkdtemp(prefix="ww-bench-"))
    redis_child, redis_url = start_redis(scratch, scratch / "logs")
    kafka_child, bootstrap = start_tansu(scratch / "logs")
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready, items = context.Event(), context.Value("i", ITEMS_PER_FEED - 1)
    server = context.Process(target=serve, args=(port, ready, items), daemon=True)
    server.start()
    ready.wait(30)
    client = aioredis.Redis.from_url(redis_url)
    topics = TopicNames.with_prefix("bench.")
    await ensure_topics(bootstrap, topics, partitions=4, replication=1)
    producer = new_producer(bootstrap, idempotent=False, client_id="bench")
    await producer.start()
    policy = AddressPolicy(["127.0.0.0/8"])
    session = new_session(policy, per_host_limit=4, resolver=LoopbackResolver())
    parser = ParserPool(workers=2, timeout=30)
    result: dict[str, object] = {}
    try:
        publisher = RawItemPublisher(producer, topics.raw)
        pollers = {}
        for mode, offset in (("never", feeds), ("auto", 0)):
            specs = [FeedSpec(url=f"http://feed{i}.bench.test:{port}/feed/{i}", full_text=mode)
                     for i in range(offset, offset + feeds)]
            pages = PageFetcher(session, policy=policy, extract=parser.extract,
                                concurrency=concurrency, queue_size=10_000)
            pollers[mode] = FeedPoller(specs, session=session, publisher=publisher,
                                       store=FeedStateStore(client, f"bench-{mode}:"),
                                       policy=policy, concurrency=64, parse=parser.parse)
            # The previous cycle (its pages long fetched): all items but the newest known.
            await pollers[mode].poll_due()
            pollers[mode].pages = pages
        items.value = ITEMS_PER_FEED  # now each feed has one new item: 10 % of its items
        for mode, poller in pollers.items():
            for spec in poller.feeds:
                await poller.store.poll_soon(spec.feed_id)
            assert poller.pages is not None
            fetching = asyncio.create_task(poller.fetch_pages())
            started = time.perf_counter()
            outcomes = await poller.poll_due()
            polled = time.perf_counter() - started
            await poller.pages.join()
            drained = time.perf_counter() - started
            fetching.cancel()
            await asyncio.gather(fetching, return_exceptions=True)
            result[f"full_text_{mode}"] = {
                "poll_cycle_seconds": round(polled, 2),
                "all_items_published_seconds": round(drained, 2),
                "published_by_polls": sum(o.published for o in outcomes),
                "errors": sum(1 for o in outcomes if o.error)}
    finally:
        parser.close()
        await session.close()
        await producer.stop()
        await client.aclose()
        server.kill()
        kafka_child.stop()
        redis_child.stop()
    auto = result["full_text_auto"]
    assert isinstance(auto, dict)
    scale = 10_000 / feeds
    result["extrapolated_10000_feeds"] = {
        "page_fetches": 10_000, "poll_cycle_seconds": round(auto["poll_cycle_seconds"] * scale, 1),
        "all_items_published_seconds": round(auto["all_items_published_seconds"] * scale, 1),
        "target_seconds": 30}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=80, help="pages scored for quality")
    parser.add_argument("--seconds", type=float, default=5.0, help="pages/s measurement")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    result: dict[str, object] = {"quality": quality(args.pages)}
    result["pages_per_s_per_parser_worker"] = round(asyncio.run(pages_per_second(args.seconds)),
                                                    1)
    result["cycle"] = asyncio.run(cycle(args.feeds, args.concurrency))
    result["feeds"] = args.feeds
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

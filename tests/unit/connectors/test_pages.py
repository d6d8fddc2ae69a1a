"""Article page fetches: robots.txt obeyed and cached, pacing per host, conditional requests.

Pages come from a local aiohttp server; host names (site-a.test, site-b.test) resolve to
127.0.0.1 through a test resolver, so that each name is a host of its own for pacing while
the SSRF guard still checks the address connected to.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from wirewatch.connectors.check import check_feed
from wirewatch.connectors.errors import FeedFileError
from wirewatch.connectors.feeds_file import spec_from_mapping
from wirewatch.connectors.fetch import new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.pages import HostQueue, PageFetcher, needs_page
from wirewatch.connectors.records import RawItem
from wirewatch.connectors.registry import FeedRegistry

POLICY = AddressPolicy(["127.0.0.1/32"])
SENTENCES = [f"Sentence {n} of the article says that Zephyrine Robotics opened plant {n} in "
             f"the valley, hiring workers for its new assembly line." for n in range(12)]


def article_html(sentences: list[str] = SENTENCES) -> str:
    """An article page as sites serve them: navigation, a cookie wall, related links and
    comments around the story."""
    body = "".join(f"<p>{s}</p>" for s in sentences)
    return ("<!doctype html><html><head><title>Zephyrine opens plants</title></head><body>"
            "<div id='cookie-consent'><p>We use cookies to improve your experience. Accept "
            "all cookies?</p><button>Accept</button></div>"
            "<nav><ul><li><a href='/'>Home</a></li><li><a href='/markets'>Markets</a></li>"
            "<li><a href='/tech'>Tech</a></li></ul></nav>"
            f"<main><article><h1>Zephyrine opens plants</h1>{body}</article>"
            "<aside class='related'><h2>Related</h2><ul><li><a href='/x'>Another story "
            "about something else entirely</a></li></ul></aside>"
            "<section id='comments' class='comments'><h2>Comments</h2><div class='comment'>"
            "<p>First! Quantumberry pies are the best, buy them now.</p></div></section>"
            "</main><footer><p>Copyright Example News</p></footer></body></html>")


class LoopbackResolver(AbstractResolver):
    """Every name is 127.0.0.1: many "hosts" on one loopback server."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


@dataclass
class Site:
    """What the local server serves and what it saw: request (host, path, time, headers)."""

    robots: dict[str, tuple[int, str]] = field(default_factory=dict)  # host -> status, body
    pages: dict[str, str] = field(default_factory=dict)  # path -> HTML (or RSS: *.xml)
    seen: list[tuple[str, str, float, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def requests(self, path: str | None = None) -> list[tuple[str, str, float]]:
        return [(h, p, at) for h, p, at, _ in self.seen if path is None or p == path]


@asynccontextmanager
async def article_site(site: Site) -> AsyncIterator[Site]:
    async def handle(request: web.Request) -> web.Response:
        host = request.host.split(":")[0]
        site.seen.append((host, request.path, time.monotonic(), dict(request.headers)))
        if request.path == "/robots.txt":
            status, text = site.robots.get(host, (404, "not found"))
            return web.Response(status=status, text=text)
        page = site.pages.get(request.path)
        if page is None:
            return web.Response(status=404)
        if request.headers.get("If-None-Match") == '"p1"':
            return web.Response(status=304)
        kind = "application/rss+xml" if request.path.endswith(".xml") else "text/html"
        return web.Response(text=page, content_type=kind, headers={"ETag": '"p1"'})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    site.port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
    try:
        yield site
    finally:
        await runner.cleanup()


def item(url: str, item_id: str, summary: str = "Zephyrine opens a plant.") -> RawItem:
    return RawItem(item_id=item_id, feed_id="f1", feed_url="http://feeds.test/rss", source="t",
                   url=url, original_url=url, title="Zephyrine", summary=summary,
                   fetched_at=datetime(2026, 12, 1, tzinfo=UTC), content_hash="h")


@asynccontextmanager
async def running(fetcher: PageFetcher) -> AsyncIterator[list[tuple[RawItem, str]]]:
    delivered: list[tuple[RawItem, str]] = []

    async def deliver(done: RawItem, outcome: str) -> None:
        delivered.append((done, outcome))

    task = asyncio.create_task(fetcher.run(deliver))
    try:
        yield delivered
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def fetcher_for(**options: float) -> AsyncIterator[PageFetcher]:
    async with new_session(POLICY, resolver=LoopbackResolver()) as session:
        yield PageFetcher(session, policy=POLICY, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "summary", "expected"), [
    pytest.param("auto", "Short.", True, id="auto-short"),
    pytest.param("auto", "word " * 80, False, id="auto-long-enough"),
    pytest.param("always", "word " * 500, True, id="always"),
    pytest.param("never", "Short.", False, id="never"),
])
def test_which_items_need_their_page(mode: str, summary: str, expected: bool) -> None:
    assert needs_page(item("https://x.test/a", "i", summary), mode, 80) is expected
    assert needs_page(item("", "i", summary), mode, 80) is False  # no link: nothing to fetch


async def test_the_page_text_replaces_a_short_summary() -> None:
    site = Site(pages={"/a": article_html()})
    async with article_site(site), fetcher_for(rate=100) as fetcher:
        async with running(fetcher) as delivered:
            assert fetcher.offer(item(site.url("site-a.test", "/a"), "i1"))
            assert fetcher.waiting("i1") and fetcher.waiting_for("f1")
            await asyncio.wait_for(fetcher.join(), 30)
    [(done, outcome)] = delivered
    assert outcome == "fetched" and done.text_source == "page"
    assert "plant 11 in the valley" in done.content
    assert "cookies" not in done.content and "Quantumberry" not in done.content
    assert done.summary == "Zephyrine opens a plant." and done.content_hash == "h"
    assert not fetcher.waiting("i1") and not fetcher.waiting_for("f1")


async def test_robots_txt_is_obeyed_and_read_once_per_host() -> None:
    site = Site(pages={"/news/a": article_html(), "/private/b": article_html()},
                robots={"site-a.test": (200, "User-agent: *\nDisallow: /private/\n")})
    async with article_site(site), fetcher_for(rate=100) as fetcher:
        async with running(fetcher) as delivered:
            fetcher.offer(item(site.url("site-a.test", "/news/a"), "a"))
            fetcher.offer(item(site.url("site-a.test", "/private/b"), "b"))
            await asyncio.wait_for(fetcher.join(), 30)
    outcomes = {done.item_id: (outcome, done.text_source) for done, outcome in delivered}
    assert outcomes == {"a": ("fetched", "page"), "b": ("skipped_by_robots", "feed")}
    assert [p for _, p, _ in site.requests()] == ["/robots.txt", "/news/a"]


@pytest.mark.parametrize(("status", "outcome"), [
    pytest.param(404, "fetched", id="missing-means-allowed"),
    pytest.param(503, "skipped_by_robots", id="unreachable-means-disallowed"),
])
async def test_robots_txt_that_cannot_be_read(status: int, outcome: str) -> None:
    site = Site(pages={"/a": article_html()}, robots={"site-a.test": (status, "")})
    async with article_site(site), fetcher_for(rate=100) as fetcher:
        async with running(fetcher) as delivered:
            fetcher.offer(item(site.url("site-a.test", "/a"), "a"))
            await asyncio.wait_for(fetcher.join(), 30)
    assert [o for _, o in delivered] == [outcome]


async def test_pages_of_one_host_are_paced_while_other_hosts_go_on() -> None:
    site = Site(pages={f"/{n}": article_html() for n in range(3)})
    async with article_site(site), fetcher_for(rate=4) as fetcher:  # 0.25 s apart per host
        async with running(fetcher):
            for n in range(3):
                fetcher.offer(item(site.url("site-a.test", f"/{n}"), f"a{n}"))
            fetcher.offer(item(site.url("site-b.test", "/0"), "b0"))
            await asyncio.wait_for(fetcher.join(), 30)
    a_times = [at for host, path, at in site.requests() if host == "site-a.test"
               and path != "/robots.txt"]
    b_time = next(at for host, path, at in site.requests() if host == "site-b.test"
                  and path != "/robots.txt")
    assert len(a_times) == 3
    gaps = [later - earlier for earlier, later in zip(a_times, a_times[1:], strict=False)]
    assert min(gaps) >= 0.24
    assert b_time < a_times[1]  # site-b did not wait behind site-a's pacing


async def test_crawl_delay_wins_over_a_faster_rate() -> None:
    site = Site(pages={"/1": article_html(), "/2": article_html()},
                robots={"site-a.test": (200, "User-agent: wirewatch\nCrawl-delay: 1\n")})
    async with article_site(site), fetcher_for(rate=100) as fetcher:
        async with running(fetcher):
            fetcher.offer(item(site.url("site-a.test", "/1"), "1"))
            fetcher.offer(item(site.url("site-a.test", "/2"), "2"))
            await asyncio.wait_for(fetcher.join(), 30)
    first, second = [at for _, path, at in site.requests() if path != "/robots.txt"]
    assert second - first >= 0.99


async def test_a_page_fetched_again_is_asked_for_conditionally() -> None:
    site = Site(pages={"/a": article_html()})
    async with article_site(site), fetcher_for(rate=100) as fetcher:
        async with running(fetcher) as delivered:
            fetcher.offer(item(site.url("site-a.test", "/a"), "a"))
            await asyncio.wait_for(fetcher.join(), 30)
            fetcher.offer(item(site.url("site-a.test", "/a"), "a"))  # e.g. the item edited
            await asyncio.wait_for(fetcher.join(), 30)
    assert [o for _, o in delivered] == ["fetched", "not_modified"]
    assert delivered[0][0].content == delivered[1][0].content
    page_requests = [headers for _, path, _, headers in site.seen if path == "/a"]
    assert "If-None-Match" not in page_requests[0]
    assert page_requests[1]["If-None-Match"] == '"p1"'


async def test_the_feed_text_is_kept_when_the_page_says_less_or_fails() -> None:
    long_summary = " ".join(SENTENCES * 3)
    site = Site(pages={"/a": article_html()})
    async with article_site(site), fetcher_for(rate=100) as fetcher:
        async with running(fetcher) as delivered:
            fetcher.offer(item(site.url("site-a.test", "/a"), "a", summary=long_summary))
            fetcher.offer(item(site.url("site-a.test", "/gone"), "gone"))
            fetcher.offer(item("http://10.0.0.1/a", "private"))  # the SSRF guard refuses it
            await asyncio.wait_for(fetcher.join(), 30)
    outcomes = {done.item_id: (o, done.text_source, done.content) for done, o in delivered}
    assert outcomes == {"a": ("kept_feed_text", "feed", ""), "gone": ("failed", "feed", ""),
                        "private": ("skipped_by_robots", "feed", "")}


async def test_a_full_queue_refuses_and_an_item_is_queued_once() -> None:
    async with fetcher_for(queue_size=2) as fetcher:
        assert fetcher.offer(item("https://x.test/1", "1"))
        assert fetcher.offer(item("https://x.test/1", "1"))  # already waiting: not twice
        assert fetcher.offer(item("https://x.test/2", "2"))
        assert not fetcher.offer(item("https://x.test/3", "3"))
        assert fetcher.queue.size == 2


async def test_checking_a_feed_shows_the_text_each_item_got() -> None:
    site = Site(robots={"site-a.test": (200, "User-agent: *\nDisallow: /private/\n")})
    async with article_site(site):
        base = f"http://site-a.test:{site.port}"
        site.pages = {"/a": article_html(), "/private/b": article_html(), "/feed.xml": (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            f"<item><title>A</title><link>{base}/a</link><guid>a</guid>"
            "<description>Short.</description></item>"
            f"<item><title>B</title><link>{base}/private/b</link><guid>b</guid>"
            "<description>Short.</description></item></channel></rss>")}
        checked = await check_feed(f"{base}/feed.xml", policy=POLICY, full_text="auto",
                                   rate=100, resolver=LoopbackResolver())
        plain = await check_feed(f"{base}/feed.xml", policy=POLICY,
                                 resolver=LoopbackResolver())
    by_guid = {i.guid: i for i in checked.items}
    assert [by_guid["a"].text_source, by_guid["b"].text_source] == ["page", "feed"]
    assert sorted(checked.pages.values()) == ["fetched", "skipped_by_robots"]
    assert plain.pages == {} and {i.text_source for i in plain.items} == {"feed"}


@pytest.mark.redis
@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(None, "auto", id="default"),
    pytest.param("never", "never", id="never"),
    pytest.param("always", "always", id="always"),
])
async def test_full_text_is_read_and_registered(redis_client, unique: str, value: str | None,
                                                expected: str) -> None:
    entry = {"url": "https://x.test/rss"} | ({"full_text": value} if value else {})
    spec = spec_from_mapping(entry, "feeds[0]")
    assert spec.full_text == expected
    registry = FeedRegistry(redis_client, prefix=f"{unique}:")
    await registry.add([spec])
    assert (await registry.find(spec.url)) == spec


@pytest.mark.parametrize("value", [False, "sometimes", ["auto"]])
def test_an_unknown_full_text_mode_is_refused(value: object) -> None:
    with pytest.raises(FeedFileError, match="full_text must be one of auto, always, never"):
        spec_from_mapping({"url": "https://x.test/rss", "full_text": value}, "feeds[0]")


async def test_a_host_owes_its_pause_even_when_its_next_item_comes_later() -> None:
    queue = HostQueue(capacity=10)
    queue.offer("site-a.test", item("http://site-a.test/1", "1"))
    host, _ = await queue.take()
    released = time.monotonic()
    queue.release(host, released + 0.3)  # nothing else waits for site-a just now
    queue.offer("site-b.test", item("http://site-b.test/1", "b"))
    queue.offer("site-a.test", item("http://site-a.test/2", "2"))
    first = await asyncio.wait_for(queue.take(), 5)
    second = await asyncio.wait_for(queue.take(), 5)
    assert [first[0], second[0]] == ["site-b.test", "site-a.test"]
    assert time.monotonic() - released >= 0.29

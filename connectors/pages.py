"""Full text: fetch the article pages of short items, paced per host, off the poll's path.

Items whose feed text is short wait in a bounded queue of their own; a few workers fetch
their pages (robots.txt first, one request at a time per host, at most `rate` a second or
the host's Crawl-delay), extract the main text in the parser processes and hand each item
on, with the page's text when it says more than the feed's. A slow or unreachable site
holds only its own items: polls never wait on a page.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import msgspec
from wirewatch.connectors import metrics
from wirewatch.connectors.errors import FetchError
from wirewatch.connectors.extract import Extraction, as_content, extraction, word_count
from wirewatch.connectors.fetch import PAGE_ACCEPT, FetchLimits, Validators, fetch_feed
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.records import RawItem
from wirewatch.connectors.robots import RobotsCache

log = logging.getLogger(__name__)

Extract = Callable[[bytes, str], Awaitable[Extraction]]
Deliver = Callable[[RawItem, str], Awaitable[None]]  # the item, and the outcome (PAGE_OUTCOMES)
MAX_CRAWL_DELAY = 60.0  # a site asking for more is not fetched from at all
PAGES_REMEMBERED = 2_000  # validators and text of recent pages, for conditional requests


def needs_page(item: RawItem, mode: str, min_words: int) -> bool:
    """Whether the item's article page should be fetched under the feed's full_text mode."""
    if mode == "never" or not (item.original_url or item.url):
        return False
    return mode == "always" or word_count(item.content or item.summary) < min_words


@dataclass
class _Host:
    waiting: deque[RawItem]
    busy: bool = False
    ready_at: float = 0.0


class HostQueue:
    """Items by host; `take` hands out the item of the host that may be asked soonest.

    A host is busy from `take` until `release`, and ready again `delay` seconds after its
    request began: one request at a time per host, paced, while other hosts go on.
    """

    def __init__(self, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.clock = clock
        self.size = 0
        self._hosts: dict[str, _Host] = {}
        self._ready: list[tuple[float, int, str]] = []  # (ready_at, order, host): a heap
        self._order = 0
        self._pauses: dict[str, float] = {}  # hosts with nothing waiting, still owed a pause
        self._changed = asyncio.Event()  # an item offered or a host released

    def offer(self, host: str, item: RawItem) -> bool:
        if self.size >= self.capacity:
            return False
        entry = self._hosts.get(host)
        if entry is None:
            entry = self._hosts[host] = _Host(deque(), ready_at=self._pauses.pop(host, 0.0))
        entry.waiting.append(item)
        self.size += 1
        if len(entry.waiting) == 1 and not entry.busy:
            self._schedule(host, entry.ready_at)
        self._changed.set()
        return True

    async def take(self) -> tuple[str, RawItem]:
        while True:
            wait = self._ready[0][0] - self.clock() if self._ready else None
            if wait is not None and wait <= 0:
                _, _, host = heapq.heappop(self._ready)
                entry = self._hosts[host]
                entry.busy = True
                self.size -= 1
                return host, entry.waiting.popleft()
            # No await between the check and the wait: a wake-up cannot slip in between.
            self._changed.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._changed.wait()
            except TimeoutError:
                pass

    def release(self, host: str, ready_at: float) -> None:
        """The host's request is done; it may be asked again from `ready_at` on."""
        entry = self._hosts[host]
        entry.busy, entry.ready_at = False, ready_at
        if entry.waiting:
            self._schedule(host, ready_at)
            self._changed.set()
            return
        del self._hosts[host]  # nothing waits: only the pause it is owed is kept
        now = self.clock()
        if ready_at > now:
            self._pauses[host] = ready_at
        if len(self._pauses) > 1000:  # hosts seen once: forget those whose pause is over
            self._pauses = {h: at for h, at in self._pauses.items() if at > now}

    def _schedule(self, host: str, at: float) -> None:
        self._order += 1
        heapq.heappush(self._ready, (at, self._order, host))

class PageFetcher:
    """The page queue and its workers; `offer` never blocks, `run` fetches until cancelled."""

    def __init__(self, session: aiohttp.ClientSession, *, policy: AddressPolicy,
                 limits: FetchLimits = FetchLimits(), extract: Extract | None = None,
                 min_words: int = 80, rate: float = 1.0, queue_size: int = 10_000,
                 concurrency: int = 16, clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.policy = policy
        self.limits = limits
        self.extract = extract or _extract_in_thread
        self.min_words = min_words
        self.interval = 1.0 / rate
        self.concurrency = concurrency
        self.clock = clock
        self.robots = RobotsCache(session, policy=policy, limits=limits, clock=clock)
        self.queue = HostQueue(queue_size, clock)
        self._waiting: dict[str, str] = {}  # item id -> feed id, queued or being fetched
        self._feeds: Counter[str] = Counter()
        self._known: OrderedDict[str, tuple[Validators, str]] = OrderedDict()
        self._idle = asyncio.Event()
        self._idle.set()

    def waiting(self, item_id: str) -> bool:
        """The item is queued or its page being fetched: not to be queued again."""
        return item_id in self._waiting

    def waiting_for(self, feed_id: str) -> bool:
        return self._feeds[feed_id] > 0

    def offer(self, item: RawItem) -> bool:
        """Queue the item for its page; False when the queue is full."""
        if item.item_id in self._waiting:
            return True
        host = (urlsplit(item.original_url or item.url).netloc or "").lower()
        if not self.queue.offer(host, item):
            metrics.PAGES.labels("queue_full").inc()
            return False
        self._waiting[item.item_id] = item.feed_id
        self._feeds[item.feed_id] += 1
        self._idle.clear()
        metrics.PAGES.labels("queued").inc()
        metrics.PAGE_QUEUE.set(len(self._waiting))
        return True

    async def join(self) -> None:
        """Wait until no item waits for its page (tests and benchmarks)."""
        await self._idle.wait()

    async def run(self, deliver: Deliver) -> None:
        """Fetch pages and deliver their items until cancelled."""
        async with asyncio.TaskGroup() as workers:
            for _ in range(self.concurrency):
                workers.create_task(self._work(deliver))

    async def _work(self, deliver: Deliver) -> None:
        while True:
            host, item = await self.queue.take()
            started = self.clock()
            delay = 0.0
            try:
                enriched, outcome, delay = await self._enriched(item)
                metrics.PAGES.labels(outcome).inc()
                await deliver(enriched, outcome)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Kafka down: the next poll offers it again
                log.exception("could not hand on an item after its page fetch",
                              extra={"article_url": item.url, "feed_id": item.feed_id})
            finally:
                self.queue.release(host, started + delay)
                self._done(item)

    def _done(self, item: RawItem) -> None:
        self._waiting.pop(item.item_id, None)
        self._feeds[item.feed_id] -= 1
        if self._feeds[item.feed_id] <= 0:
            del self._feeds[item.feed_id]
        metrics.PAGE_QUEUE.set(len(self._waiting))
        if not self._waiting:
            self._idle.set()

    async def _enriched(self, item: RawItem) -> tuple[RawItem, str, float]:
        """The item with the page's text when it says more; the outcome; the host's pause."""
        url = item.original_url or item.url
        verdict = await self.robots.verdict(url)
        if not verdict.allowed:
            log.info("page not fetched", extra={"article_url": url, "reason": verdict.reason})
            return item, "skipped_by_robots", 0.0
        delay = max(self.interval, verdict.crawl_delay or 0.0)
        if delay > MAX_CRAWL_DELAY:
            log.info("page not fetched: Crawl-delay too long", extra={"article_url": url})
            return item, "skipped_by_robots", 0.0
        known = self._known.get(url)
        timer = time.perf_counter()
        try:
            result = await fetch_feed(self.session, url, policy=self.policy,
                                      validators=known[0] if known else Validators(),
                                      limits=self.limits, accept=PAGE_ACCEPT)
        except FetchError as exc:
            log.info("page fetch failed", extra={"article_url": url, "error": str(exc)})
            return item, "failed", delay
        finally:
            metrics.PAGE_SECONDS.observe(time.perf_counter() - timer)
        if result.status == 304 and known is not None:
            return _with_text(item, known[1]), "not_modified", delay
        if result.status != 200:
            return item, "failed", delay
        found = await self.extract(result.body, result.url)
        if found.text is None:
            log.info("no text extracted", extra={"article_url": url, "error": found.error})
            return item, "failed", delay
        if word_count(found.text) <= word_count(item.content or item.summary):
            return item, "kept_feed_text", delay
        content = as_content(found.text)
        if result.validators.etag or result.validators.last_modified:
            self._known[url] = (result.validators, content)
            while len(self._known) > PAGES_REMEMBERED:
                self._known.popitem(last=False)
        return _with_text(item, content), "fetched", delay


def _with_text(item: RawItem, content: str) -> RawItem:
    # content_hash stays the feed's: the next poll compares the feed's text with it.
    return msgspec.structs.replace(item, content=content, text_source="page")


async def _extract_in_thread(page: bytes, url: str) -> Extraction:
    return await asyncio.to_thread(extraction, page, url)

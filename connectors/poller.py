"""The connector loop: poll due feeds, publish new and edited items, remember feed state."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import msgspec
from aiokafka.errors import KafkaError
from wirewatch.connectors import metrics
from wirewatch.connectors.errors import FetchError
from wirewatch.connectors.feeds_file import FeedSpec
from wirewatch.connectors.fetch import FetchLimits, fetch_feed
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.items import bounded, raw_items
from wirewatch.connectors.pages import PageFetcher, needs_page
from wirewatch.connectors.parse import ParsedFeed, parse_feed
from wirewatch.connectors.publish import RawItemPublisher
from wirewatch.connectors.records import RawItem
from wirewatch.connectors.schedule import (
    ScheduleBounds,
    error_interval,
    expires_seconds,
    frequency_interval,
    retry_after_seconds,
    success_interval,
    with_jitter,
)
from wirewatch.connectors.state import FeedState, FeedStateStore, FetchRecord
from wirewatch.connectors.websub import WebSubSubscriber, discover, is_active

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one feed did."""

    feed_id: str
    status: int | None
    published: int
    error: str | None = None


class FeedPoller:
    """Polls a set of feeds forever; each poll is independent and never raises."""

    def __init__(
        self, feeds: list[FeedSpec], *, session: aiohttp.ClientSession,
        publisher: RawItemPublisher, store: FeedStateStore, policy: AddressPolicy,
        bounds: ScheduleBounds = ScheduleBounds(), limits: FetchLimits = FetchLimits(),
        concurrency: int = 32, clock: Callable[[], float] = time.time,
        parse: Callable[[bytes, str], Awaitable[ParsedFeed]] | None = None,
        websub: WebSubSubscriber | None = None, pages: PageFetcher | None = None,
    ) -> None:
        self.feeds = feeds
        self.session = session
        self.publisher = publisher
        self.store = store
        self.policy = policy
        self.bounds = bounds
        self.limits = limits
        self.clock = clock
        self.parse = parse or _parse_in_thread
        self.websub = websub
        self.pages = pages  # None: full text off, every item published with the feed's text
        self._by_id = {spec.feed_id: spec for spec in feeds}
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = random.Random()

    def replace_feeds(self, feeds: list[FeedSpec]) -> None:
        """Poll these feeds from the next tick on (polls in flight finish)."""
        self.feeds = feeds
        self._by_id = {spec.feed_id: spec for spec in feeds}

    async def run_forever(self, tick_seconds: float = 1.0, renew_every: float = 60.0) -> None:
        """Poll whatever is due, renew WebSub leases now and then; cancelled to stop."""
        last_renewal = 0.0
        in_flight: dict[str, asyncio.Task[PollOutcome]] = {}
        pages = asyncio.create_task(self.fetch_pages())
        try:
            while True:
                try:
                    # A slow feed (fetch deadline, then parse timeout) must not hold the
                    # others: each due feed polls in a task of its own, never two at once.
                    for spec, state in await self._due():
                        if spec.feed_id not in in_flight:
                            task = asyncio.create_task(self._guarded_poll(spec, state))
                            in_flight[spec.feed_id] = task
                            task.add_done_callback(
                                functools.partial(_forget, in_flight, spec.feed_id))
                    if self.websub is not None and self.clock() - last_renewal >= renew_every:
                        last_renewal = self.clock()
                        await self.websub.renew_due(set(self._by_id))
                except Exception:  # noqa: BLE001 - Redis or a hub down: pause, then retry
                    log.exception("connector tick failed; retrying")
                await asyncio.sleep(tick_seconds)
        finally:
            pages.cancel()
            for task in list(in_flight.values()):
                task.cancel()
            await asyncio.gather(*in_flight.values(), pages, return_exceptions=True)

    async def fetch_pages(self) -> None:
        """Fetch the article pages of queued items and publish them; cancelled to stop.
        run_forever runs this; a caller of poll_due runs it beside."""
        if self.pages is None:
            await asyncio.Event().wait()
            return
        await self.pages.run(self._publish_paged)

    async def ingest(self, feed_id: str, body: bytes, content_type: str) -> None:
        """Content a WebSub hub pushed: the same path as a poll's (raises if Kafka fails)."""
        spec = self._by_id.get(feed_id)
        if spec is None:
            log.warning("push for a feed this connector does not poll", extra={"feed_id": feed_id})
            return
        parsed = bounded(await self.parse(body, content_type))
        await self._publish(spec, parsed)  # Kafka down: raises, and the hub retries

    def setup_of(self, spec: FeedSpec) -> str:
        """A stamp of what decides how this feed is fetched: its spec, networks and limits."""
        described = repr((spec.url, spec.interval_seconds, sorted(map(str, self.policy.allow)),
                          self.limits))
        return hashlib.blake2b(described.encode(), digest_size=8).hexdigest()

    async def _due(self) -> list[tuple[FeedSpec, FeedState]]:
        now = self.clock()
        states = await self.store.load_many([spec.feed_id for spec in self.feeds])
        # A feed that failed under another set-up (the operator allowed its network, say)
        # is due at once: its backoff was earned by a configuration no longer in force.
        return [(spec, state) for spec, state in zip(self.feeds, states, strict=True)
                if state.next_poll <= now
                or (state.error_streak and state.failed_under != self.setup_of(spec))]

    async def poll_due(self) -> list[PollOutcome]:
        """Poll every due feed once and wait for all of them (one cycle)."""
        due = await self._due()
        return list(await asyncio.gather(*(self._guarded_poll(s, st) for s, st in due)))

    async def _guarded_poll(self, spec: FeedSpec, state: FeedState) -> PollOutcome:
        async with self._slots:
            try:
                return await self.poll_one(spec, state)
            except Exception as exc:  # noqa: BLE001 - one feed's bug must not stop the others
                log.exception("feed poll crashed", extra={"feed_url": spec.url})
                try:
                    await self._record_error(spec, state, None, type(exc).__name__, str(exc),
                                             None)
                except Exception:  # noqa: BLE001 - Redis itself may be what failed
                    log.exception("could not record the error", extra={"feed_url": spec.url})
                return PollOutcome(spec.feed_id, None, 0, str(exc))

    async def poll_one(self, spec: FeedSpec, state: FeedState) -> PollOutcome:
        """Fetch, parse and publish one feed, then save its new state."""
        started = self.clock()
        timer = time.perf_counter()
        try:
            result = await fetch_feed(self.session, spec.url, policy=self.policy,
                                      validators=state.validators, limits=self.limits)
        except FetchError as exc:
            metrics.RESPONSES.labels(str(exc.status or 0)).inc()
            await self._record_error(spec, state, exc.status, type(exc).__name__, str(exc), None,
                                     seconds=time.perf_counter() - timer)
            return PollOutcome(spec.feed_id, exc.status, 0, str(exc))
        metrics.FETCH_SECONDS.observe(time.perf_counter() - timer)
        metrics.RESPONSES.labels(str(result.status)).inc()
        if result.status not in (200, 304):
            retry = retry_after_seconds(result.retry_after, started)
            message = f"HTTP {result.status}"
            await self._record_error(spec, state, result.status, "HTTPStatus", message, retry,
                                     seconds=time.perf_counter() - timer)
            return PollOutcome(spec.feed_id, result.status, 0, message)

        parsed = ParsedFeed()
        published = 0
        refused: str | None = None
        pushed = False
        if result.status == 200:
            parsed = bounded(await self.parse(result.body, result.content_type))
            if parsed.error and not parsed.entries:
                # Keep the old validators: a 304 next time would hide items never parsed.
                await self._record_error(spec, state, result.status, "ParseError",
                                         parsed.error, None, seconds=time.perf_counter() - timer)
                return PollOutcome(spec.feed_id, result.status, 0, parsed.error)
            try:
                published, refused = await self._publish(spec, parsed)
            except KafkaError as exc:
                # Keep the old validators and item hashes: the next poll fetches the feed
                # again in full and publishes these items again. Nothing is lost.
                await self.store.save(spec.feed_id, replace(
                    state, last_error=f"publish failed: {exc}", error_class="PublishError",
                    last_attempt=started, next_poll=started + self.bounds.min_seconds,
                    first_poll=state.first_poll or started), FetchRecord(
                        started, result.status, 0, f"publish failed: {exc}",
                        round(time.perf_counter() - timer, 3)))
                log.warning("publish failed; will retry", extra={"feed_url": spec.url})
                return PollOutcome(spec.feed_id, result.status, 0, f"publish failed: {exc}")
            pushed = await self._follow_hub(spec, parsed, result.url)
        elif self.websub is not None:  # 304: the feed (and its hub) are as they were
            subscription = await self.websub.store.load(spec.feed_id)
            pushed = subscription is not None and is_active(subscription, self.clock())
        interval = success_interval(
            self.bounds, fixed=spec.interval_seconds, cache_control=result.cache_control,
            expires=expires_seconds(result.expires, started), ttl_minutes=parsed.ttl_minutes,
            frequency=frequency_interval([entry.published.timestamp() for entry in parsed.entries
                                          if entry.published is not None], started),
        )
        if pushed:
            interval = self.bounds.max_seconds  # the hub pushes; polling is only the fallback
        validators = result.validators
        if self.pages is not None and self.pages.waiting_for(spec.feed_id):
            # Items wait for their pages, not yet remembered: should they never be published
            # (a crash, Kafka down), only a full fetch of the feed brings them back.
            validators = state.validators
        await self.store.save(spec.feed_id, replace(
            state, etag=validators.etag, last_modified=validators.last_modified,
            last_status=result.status, last_error=parsed.error or refused, error_class=None,
            error_streak=0, last_success=started, last_attempt=started,
            first_poll=state.first_poll or started,
            next_poll=started + with_jitter(interval, self.bounds, self._rng),
            items_published=state.items_published + published,
        ), FetchRecord(started, result.status, published, parsed.error or refused,
                       round(time.perf_counter() - timer, 3)))
        metrics.PUBLISHED.inc(published)
        log.info("polled feed", extra={"feed_url": spec.url, "status": result.status,
                                       "published": published})
        return PollOutcome(spec.feed_id, result.status, published, parsed.error)

    async def _publish(self, spec: FeedSpec, parsed: ParsedFeed) -> tuple[int, str | None]:
        """Publish the new and edited items of a parsed feed, then remember them.

        Returns how many were published and, if Kafka refused some for good, why.
        """
        items = raw_items(parsed, feed_id=spec.feed_id, feed_url=spec.url,
                          source=_source_name(spec), fetched_at=datetime.now(UTC))
        fresh = self._not_waiting_for_pages(spec, await self._new_or_edited(spec.feed_id, items))
        # Publish before remembering: if Kafka fails, the next fetch publishes them again.
        refused = await self.publisher.publish(fresh)
        # Refused items are remembered too: retrying cannot help, and they must not block.
        await self.store.record_items(spec.feed_id,
                                      {item.item_id: item.content_hash for item in fresh})
        if refused:
            log.warning("kafka refused items", extra={"feed_url": spec.url,
                                                      "count": len(refused)})
            return len(fresh) - len(refused), (f"{len(refused)} item(s) refused by Kafka: "
                                               f"{refused[0][1]}")
        return len(fresh), None

    def _not_waiting_for_pages(self, spec: FeedSpec, fresh: list[RawItem]) -> list[RawItem]:
        """The items to publish now; those whose pages are wanted go to the page queue, and
        are published (then remembered) once their page is fetched."""
        if self.pages is None or spec.full_text == "never":
            return fresh
        now = []
        for item in fresh:
            if self.pages.waiting(item.item_id):
                continue  # queued by an earlier poll: published when its page is fetched
            if not needs_page(item, spec.full_text, self.pages.min_words) \
                    or not self.pages.offer(item):  # a full queue: the feed's text, now
                now.append(item)
        return now

    async def _publish_paged(self, item: RawItem, outcome: str) -> None:
        """Publish an item whose page fetch is over, then remember it (as a poll does)."""
        refused = await self.publisher.publish([item])
        await self.store.record_items(item.feed_id, {item.item_id: item.content_hash})
        metrics.PUBLISHED.inc(1 - len(refused))

    async def _follow_hub(self, spec: FeedSpec, parsed: ParsedFeed, fetched_url: str) -> bool:
        """Hold a WebSub lease while the feed names a hub; True while the hub pushes."""
        if self.websub is None:
            return False
        found = discover(parsed, fetched_url)
        if found is None:
            if await self.websub.store.load(spec.feed_id) is not None:
                await self.websub.unsubscribe(spec.feed_id)
            return False
        hub, topic = found
        subscription = await self.websub.ensure(spec.feed_id, topic, hub)
        return is_active(subscription, self.clock())

    async def _new_or_edited(self, feed_id: str, items: list[RawItem]) -> list[RawItem]:
        known = await self.store.item_hashes(feed_id, [item.item_id for item in items])
        fresh = []
        for item in items:
            previous = known.get(item.item_id)
            if previous is None:
                fresh.append(item)
            elif previous != item.content_hash:
                fresh.append(msgspec.structs.replace(item, is_update=True))
        return fresh

    async def _record_error(
        self, spec: FeedSpec, state: FeedState, status: int | None, error_class: str,
        message: str, retry_after: float | None, *, seconds: float = 0.0,
    ) -> None:
        metrics.ERRORS.labels(error_class).inc()
        now = self.clock()
        streak = state.error_streak + 1
        interval = error_interval(self.bounds, streak, retry_after)
        log.warning("feed poll failed", extra={
            "feed_url": spec.url, "error": message, "error_class": error_class,
            "status": status, "failures_in_a_row": streak,
            "retry_in_seconds": round(interval, 1)})
        await self.store.save(spec.feed_id, replace(
            state, last_status=status, last_error=message, error_class=error_class,
            error_streak=streak, last_attempt=now, next_poll=now + interval,
            failed_under=self.setup_of(spec),
            first_poll=state.first_poll or now,
        ), FetchRecord(now, status, 0, message, round(seconds, 3)))


async def _parse_in_thread(body: bytes, content_type: str) -> ParsedFeed:
    return await asyncio.to_thread(parse_feed, body, content_type)


def _source_name(spec: FeedSpec) -> str:
    return spec.name or (urlsplit(spec.url).hostname or spec.url)


def _forget(in_flight: dict[str, asyncio.Task[PollOutcome]], feed_id: str,
            task: asyncio.Task[PollOutcome]) -> None:
    """A finished poll leaves the in-flight set."""
    in_flight.pop(feed_id, None)


async def poll_with_refresh(poller: FeedPoller, feeds: Callable[[], Awaitable[list[FeedSpec]]],
                            refresh_seconds: float, *, check_every: float | None = None,
                            still_ours: Callable[[], Awaitable[bool]] | None = None) -> None:
    """Poll forever, re-reading the feeds every `refresh_seconds`: feeds added, removed,
    disabled or enabled while running are polled or dropped without a restart. With
    `still_ours` (a shard lease's renewal), asked every `check_every` seconds, the polls
    stop and this returns as soon as it says no. Cancelled to stop."""
    polling = asyncio.create_task(poller.run_forever())
    refreshed = time.monotonic()
    try:
        while not polling.done():
            await asyncio.wait({polling}, timeout=check_every or refresh_seconds)
            if polling.done():
                break
            if still_ours is not None and not await still_ours():
                return
            if check_every is None or time.monotonic() - refreshed >= refresh_seconds:
                refreshed = time.monotonic()
                await _refresh(poller, feeds)
        polling.result()  # run_forever only ends by raising: let it out
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)


async def _refresh(poller: FeedPoller, feeds: Callable[[], Awaitable[list[FeedSpec]]]) -> None:
    try:
        current = await feeds()
    except Exception:  # noqa: BLE001 - Redis down: keep polling the feeds we have
        log.exception("could not re-read the feeds; keeping the current ones")
        return
    before, after = {s.feed_id for s in poller.feeds}, {s.feed_id for s in current}
    if before != after:
        log.warning("feeds changed: %d added, %d removed", len(after - before),
                    len(before - after), extra={
                        "added": sorted(s.url for s in current if s.feed_id not in before),
                        "removed": sorted(s.url for s in poller.feeds
                                          if s.feed_id not in after)})
    poller.replace_feeds(current)

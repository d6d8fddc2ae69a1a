"""robots.txt for article page fetches: read through the SSRF guard, cached per host."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import aiohttp
from wirewatch.connectors.errors import FetchError
from wirewatch.connectors.fetch import USER_AGENT, FetchLimits, fetch_feed
from wirewatch.connectors.guard import AddressPolicy

log = logging.getLogger(__name__)

# RFC 9309: a robots.txt may be cached for up to 24 hours, and only its first 500 KiB
# need be read. An unreachable one (5xx, no answer) means "disallow everything" for now:
# asked again sooner, since the site may be back in minutes.
CACHE_SECONDS = 24 * 3600.0
UNREACHABLE_SECONDS = 600.0
MAX_ROBOTS_BYTES = 500 * 1024
HOSTS_KEPT = 10_000


@dataclass(frozen=True)
class Verdict:
    """May this page be fetched; the host's Crawl-delay; why not, when it may not."""

    allowed: bool
    crawl_delay: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Rules:
    parser: RobotFileParser | None  # None: no rules (a 4xx), everything allowed
    unreachable: str = ""  # why robots.txt could not be read: everything disallowed
    expires: float = 0.0


class RobotsCache:
    """Asks each host's robots.txt (once per host at a time, then cached) about a URL."""

    def __init__(self, session: aiohttp.ClientSession, *, policy: AddressPolicy,
                 limits: FetchLimits = FetchLimits(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.policy = policy
        self.limits = FetchLimits(deadline_seconds=limits.deadline_seconds,
                                  max_body_bytes=min(limits.max_body_bytes, MAX_ROBOTS_BYTES))
        self.clock = clock
        self._rules: OrderedDict[str, _Rules] = OrderedDict()
        self._reading: dict[str, asyncio.Future[_Rules]] = {}

    async def verdict(self, url: str) -> Verdict:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        rules = await self._rules_of(origin)
        if rules.unreachable:
            return Verdict(False, reason=f"robots.txt unreachable: {rules.unreachable}")
        if rules.parser is None:
            return Verdict(True)
        delay = rules.parser.crawl_delay(USER_AGENT)
        if not rules.parser.can_fetch(USER_AGENT, url):
            return Verdict(False, None, f"robots.txt of {origin} disallows it")
        return Verdict(True, float(delay) if delay is not None else None)

    async def _rules_of(self, origin: str) -> _Rules:
        cached = self._rules.get(origin)
        if cached is not None and cached.expires > self.clock():
            self._rules.move_to_end(origin)
            return cached
        reading = self._reading.get(origin)
        if reading is None:  # one read per host, however many of its pages are waiting
            reading = self._reading[origin] = asyncio.ensure_future(self._read(origin))
            reading.add_done_callback(lambda _done: self._reading.pop(origin, None))
        rules = await asyncio.shield(reading)
        self._rules[origin] = rules
        while len(self._rules) > HOSTS_KEPT:
            self._rules.popitem(last=False)
        return rules

    async def _read(self, origin: str) -> _Rules:
        try:
            result = await fetch_feed(self.session, f"{origin}/robots.txt", policy=self.policy,
                                      limits=self.limits, accept="text/plain, */*;q=0.5")
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return _Rules(None, expires=self.clock() + CACHE_SECONDS)
            # A robots.txt over the size cap: RFC 9309 lets a crawler read its first 500
            # KiB; fetch_feed refuses it whole, and so then does this.
            log.info("robots.txt unreachable", extra={"url": origin, "error": str(exc)})
            return _Rules(None, str(exc), self.clock() + UNREACHABLE_SECONDS)
        if result.status == 200:
            parser = RobotFileParser()
            parser.parse(result.body.decode("utf-8", errors="replace").splitlines())
            parser.modified()  # without a read time, can_fetch refuses everything
            return _Rules(parser, expires=self.clock() + CACHE_SECONDS)
        if 400 <= result.status < 500 and result.status != 429:
            return _Rules(None, expires=self.clock() + CACHE_SECONDS)  # no robots.txt
        return _Rules(None, f"HTTP {result.status}", self.clock() + UNREACHABLE_SECONDS)

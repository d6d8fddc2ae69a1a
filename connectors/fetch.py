"""HTTP fetching of feeds: conditional GET, redirects re-checked, bounded time and size."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver
from wirewatch.connectors.errors import BlockedAddressError, FetchError
from wirewatch.connectors.guard import AddressPolicy, GuardedResolver, http_target

USER_AGENT = "wirewatch/0.1 (news feed fetcher; conditional GET, polite polling)"
MAX_REDIRECTS = 5
_REDIRECT_CODES = {301, 302, 303, 307, 308}
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on one fetch: total deadline and decompressed body size."""

    deadline_seconds: float = 20.0
    max_body_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Validators:
    """Conditional GET validators remembered from the last successful fetch."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """What a fetch returned: status, body (empty on 304) and the headers that matter."""

    status: int
    url: str
    body: bytes = b""
    content_type: str = ""
    validators: Validators = field(default_factory=Validators)
    cache_control: str | None = None
    expires: str | None = None
    retry_after: str | None = None
    elapsed_seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def new_session(policy: AddressPolicy, *, per_host_limit: int = 4,
                resolver: AbstractResolver | None = None) -> aiohttp.ClientSession:
    """A client session whose connections go only to addresses the policy allows; what
    `resolver` (tests, benchmarks: names on loopback) answers is checked the same way."""
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy, resolver), limit=200, limit_per_host=per_host_limit,
        ttl_dns_cache=300,
    )
    return aiohttp.ClientSession(
        connector=connector, headers={"User-Agent": USER_AGENT}, auto_decompress=True,
    )


async def fetch_feed(
    session: aiohttp.ClientSession, url: str, *, policy: AddressPolicy,
    validators: Validators = Validators(), limits: FetchLimits = FetchLimits(),
    accept: str = FEED_ACCEPT,
) -> FetchResult:
    """GET a feed (or, with another `accept`, an article page or robots.txt), following at
    most five redirects, each hop checked against the policy."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limits.deadline_seconds):
            return await _fetch(session, url, policy, validators, limits, started, accept)
    except TimeoutError as exc:
        raise FetchError(f"deadline of {limits.deadline_seconds:g}s exceeded for {url}") from exc
    except aiohttp.InvalidURL as exc:
        # e.g. "0177.0.0.1" or "2130706433": ambiguous address forms are never fetched.
        raise FetchError(f"invalid URL {url!r}: {exc}", retryable=False) from exc
    except aiohttp.ClientError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc


async def _fetch(
    session: aiohttp.ClientSession, url: str, policy: AddressPolicy, validators: Validators,
    limits: FetchLimits, started: float, accept: str,
) -> FetchResult:
    headers = {"Accept": accept}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    current, previous = url, ""
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            async with _get(session, current, policy, headers) as response:
                if response.status in _REDIRECT_CODES:
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError(f"redirect without Location from {current}",
                                         status=response.status)
                    current, previous = urljoin(current, location), current
                    continue
                body = b""
                if response.status == 200:
                    body = await _read_capped(response, limits.max_body_bytes)
                return FetchResult(
                    status=response.status,
                    url=current,
                    body=body,
                    content_type=response.headers.get("Content-Type", ""),
                    validators=Validators(
                        etag=response.headers.get("ETag") or validators.etag,
                        last_modified=response.headers.get("Last-Modified")
                        or validators.last_modified,
                    ),
                    cache_control=response.headers.get("Cache-Control"),
                    expires=response.headers.get("Expires"),
                    retry_after=response.headers.get("Retry-After"),
                    elapsed_seconds=time.monotonic() - started,
                )
        except BlockedAddressError as exc:
            if not previous:
                raise
            # The operator must see where the feed tried to send us, not only where it lives.
            raise BlockedAddressError(f"redirect from {previous} to {current} refused: "
                                      f"{exc}") from exc
        except FetchError as exc:
            if not previous or exc.status is not None:
                raise
            raise FetchError(f"redirect from {previous} to {current} refused: {exc}",
                             retryable=exc.retryable) from exc
    raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}: the last, from "
                     f"{previous} to {current}, was not followed", retryable=False)


def _get(session: aiohttp.ClientSession, url: str, policy: AddressPolicy,
         headers: dict[str, str]) -> Any:
    """One request, never a redirect followed: the URL and any IP literal checked first."""
    target = http_target(url)
    if target is None or target.host is None:
        raise FetchError(f"unsupported URL {url!r}", retryable=False)
    policy.check(target.host)
    return session.get(target, headers=headers, allow_redirects=False)


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """Read the decompressed body, refusing it as soon as it grows past `cap` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise FetchError(f"body larger than {cap} bytes (after decompression)",
                             status=response.status, retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)

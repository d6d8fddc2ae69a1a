"""WebSub subscriber: discover a feed's hub, hold a verified lease, accept signed pushes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import aiohttp
import msgspec
import redis.asyncio as aioredis
from aiohttp import web
from wirewatch.connectors.errors import FetchError
from wirewatch.connectors.guard import AddressPolicy, http_target
from wirewatch.connectors.parse import ParsedFeed
from wirewatch.connectors.state import dataclass_from_json

log = logging.getLogger(__name__)

State = Literal["requested", "verified", "denied", "failed", "unsubscribing"]
ContentHandler = Callable[[str, bytes, str], Awaitable[None]]

ALGORITHMS: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1, "sha256": hashlib.sha256,
    "sha384": hashlib.sha384, "sha512": hashlib.sha512,
}
MAX_CHALLENGE_CHARS = 1024  # hubs send short random strings; anything longer is not a hub
MAX_LEASE_SECONDS = 365 * 86400
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True)
class WebSubSubscription:
    """One feed's subscription at one hub, as stored in Redis.

    >>> WebSubSubscription("f1", "https://a.example/feed", "https://hub.example/", "...",
    ...                    "s3cret", "t0ken", 86400, "requested").state
    'requested'
    """

    feed_id: str
    topic: str
    hub: str
    callback_url: str = field(repr=False)  # a capability URL: keep it out of logs
    secret: str = field(repr=False)
    token: str = field(repr=False)  # the unguessable last segment of callback_url
    lease_seconds: int
    state: State
    expires_at: float | None = None
    last_error: str | None = None
    updated_at: float = 0.0


def callback_url(public_base: str, feed_id: str, token: str) -> str:
    """The URL a hub calls for one feed; the token makes it an unguessable capability URL."""
    return f"{public_base.rstrip('/')}/websub/{feed_id}/{token}"


def sign(secret: str, body: bytes, algo: str = "sha256") -> str:
    """An X-Hub-Signature header value for `body`; ValueError for an unknown algorithm."""
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown signature algorithm {algo!r}")
    digest = hmac.new(secret.encode(), body, ALGORITHMS[algo]).hexdigest()
    return f"{algo}={digest}"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is a valid HMAC of `body` under `secret`, compared in constant time."""
    if not header or "=" not in header:
        return False
    algo, _, given = header.strip().partition("=")
    algo = algo.strip().lower()
    if algo not in ALGORITHMS:
        return False
    expected = sign(secret, body, algo).partition("=")[2]
    # Bytes, not str: compare_digest rejects non-ASCII str, and the header is attacker input.
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace"))


def _http_url(url: str | None) -> str | None:
    return url.strip() if url and http_target(url) is not None else None


def discover(parsed: ParsedFeed, fetched_url: str) -> tuple[str, str] | None:
    """(hub, topic) for a feed that advertises WebSub: its first http(s) hub and its self URL."""
    hub = next((h for h in map(_http_url, parsed.hub_urls) if h), None)
    topic = _http_url(parsed.self_url) or _http_url(fetched_url)
    return (hub, topic) if hub and topic else None


def granted_lease(raw: str | None, requested: int) -> int:
    """The lease a verification grants; a missing or absurd value means the one we asked for."""
    try:
        lease = int(raw or "")
    except ValueError:
        return requested
    return lease if 0 < lease <= MAX_LEASE_SECONDS else requested


def is_active(sub: WebSubSubscription, now: float) -> bool:
    """Whether the hub is pushing this feed now (a renewal in flight keeps the old lease)."""
    return (sub.state in ("verified", "requested") and sub.expires_at is not None
            and sub.expires_at > now)


def renewal_due(sub: WebSubSubscription, now: float, margin: float) -> bool:
    """Whether a verified lease is within `margin` (a fraction of the lease) of expiring."""
    return (sub.state == "verified" and sub.expires_at is not None
            and sub.expires_at - margin * sub.lease_seconds <= now)


def retry_due(sub: WebSubSubscription, now: float, retry_seconds: float) -> bool:
    """Whether to ask again after a failure, a denial, or a request the hub never verified."""
    if sub.state in ("requested", "failed"):
        return sub.updated_at + retry_seconds <= now
    if sub.state == "denied":  # the hub said no: ask again rarely
        return sub.updated_at + max(retry_seconds, sub.lease_seconds) <= now
    return False


class WebSubStore:
    """Subscriptions in Redis, one JSON value per feed under `{prefix}websub:{feed_id}`."""

    def __init__(self, client: aioredis.Redis, prefix: str = "ww:") -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, feed_id: str) -> str:
        return f"{self.prefix}websub:{feed_id}"

    async def save(self, sub: WebSubSubscription) -> None:
        await self.client.set(self._key(sub.feed_id), msgspec.json.encode(asdict(sub)))

    async def load(self, feed_id: str) -> WebSubSubscription | None:
        return _decode(await self.client.get(self._key(feed_id)))

    async def all(self) -> list[WebSubSubscription]:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "websub:*"
        keys = [key async for key in self.client.scan_iter(match=pattern, count=500)]
        values = await self.client.mget(keys) if keys else []
        return [sub for sub in map(_decode, values) if sub is not None]

    async def delete(self, feed_id: str) -> None:
        await self.client.delete(self._key(feed_id))


def _decode(raw: bytes | str | None) -> WebSubSubscription | None:
    return None if raw is None else dataclass_from_json(WebSubSubscription, raw)


class WebSubSubscriber:
    """Subscribes feeds at their hubs and serves the callback the hubs call.

    >>> subscriber = WebSubSubscriber(session, store, "https://ww.example", on_content,
    ...                               policy=policy)  # doctest: +SKIP
    >>> await subscriber.ensure(feed_id, topic, hub)  # doctest: +SKIP
    """

    def __init__(
        self, session: aiohttp.ClientSession, store: WebSubStore, public_base_url: str,
        on_content: ContentHandler, *, policy: AddressPolicy,
        clock: Callable[[], float] = time.time, lease_seconds: int = 86400,
        renew_margin: float = 0.1, retry_seconds: float = 3600.0,
        max_body_bytes: int = 10 * 1024 * 1024, request_timeout: float = 20.0,
    ) -> None:
        self.session = session
        self.store = store
        self.public_base = public_base_url
        self.on_content = on_content
        self.policy = policy
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.renew_margin = renew_margin
        self.retry_seconds = retry_seconds
        self.max_body_bytes = max_body_bytes
        self.request_timeout = request_timeout

    def _same(self, sub: WebSubSubscription | None, topic: str, hub: str) -> bool:
        return (sub is not None and sub.hub == hub and sub.topic == topic
                and sub.callback_url == callback_url(self.public_base, sub.feed_id, sub.token))

    async def subscribe(self, feed_id: str, topic: str, hub: str) -> WebSubSubscription:
        """Ask `hub` for a lease on `topic`; a failure is stored, never raised."""
        old = await self.store.load(feed_id)
        now = self.clock()
        if old is not None and self._same(old, topic, hub):
            # Keep secret and callback: the hub keys leases by (topic, callback) and signs with
            # the old secret until it has verified this request.
            sub = replace(old, state="requested", lease_seconds=self.lease_seconds,
                          last_error=None, updated_at=now)
        else:
            token = secrets.token_urlsafe(24)
            sub = WebSubSubscription(
                feed_id, topic, hub, callback_url(self.public_base, feed_id, token),
                secrets.token_hex(32), token, self.lease_seconds, "requested", updated_at=now)
        # Saved before the POST: a hub may verify before it answers the POST.
        await self.store.save(sub)
        error = await self._post(hub, {
            "hub.mode": "subscribe", "hub.topic": topic, "hub.callback": sub.callback_url,
            "hub.lease_seconds": str(self.lease_seconds), "hub.secret": sub.secret,
        })
        if error is None:
            return await self.store.load(feed_id) or sub
        log.warning("websub subscribe failed", extra={"feed_id": feed_id, "error": error})
        failed = replace(sub, state="failed", last_error=error)
        await self.store.save(failed)
        return failed

    async def ensure(self, feed_id: str, topic: str, hub: str) -> WebSubSubscription:
        """Subscribe when there is no lease for (topic, hub), it is due, or a retry is due."""
        sub = await self.store.load(feed_id)
        now = self.clock()
        if (sub is None or not self._same(sub, topic, hub) or renewal_due(sub, now,
                self.renew_margin) or retry_due(sub, now, self.retry_seconds)):
            return await self.subscribe(feed_id, topic, hub)
        return sub

    async def unsubscribe(self, feed_id: str) -> WebSubSubscription | None:
        """Ask the hub to end the lease; forgotten at once if the hub cannot be asked."""
        sub = await self.store.load(feed_id)
        if sub is None:
            return None
        pending = replace(sub, state="unsubscribing", last_error=None, updated_at=self.clock())
        await self.store.save(pending)
        error = await self._post(sub.hub, {"hub.mode": "unsubscribe", "hub.topic": sub.topic,
                                           "hub.callback": sub.callback_url})
        if error is None:
            return pending
        # The lease runs out by itself; meanwhile the callback answers 410 so the hub may stop.
        await self.store.delete(feed_id)
        return None

    async def renew_due(self, feed_ids: Collection[str] | None = None) -> list[str]:
        """Re-subscribe leases near expiry (of `feed_ids`, if given); drop stale unsubscribes."""
        now = self.clock()
        renewed = []
        for sub in await self.store.all():
            if feed_ids is not None and sub.feed_id not in feed_ids:
                continue
            if renewal_due(sub, now, self.renew_margin):
                await self.subscribe(sub.feed_id, sub.topic, sub.hub)
                renewed.append(sub.feed_id)
            elif sub.state == "unsubscribing" and sub.updated_at + self.retry_seconds <= now:
                await self.store.delete(sub.feed_id)
        return renewed

    async def active_feeds(self) -> set[str]:
        """Feeds the hubs push now; the poller polls these only as a slow fallback."""
        now = self.clock()
        return {sub.feed_id for sub in await self.store.all() if is_active(sub, now)}

    async def _post(self, hub: str, form: dict[str, str]) -> str | None:
        """POST to a hub; the error as text, or None on 2xx. Hub URLs come from feeds: guarded."""
        target = http_target(hub)
        if target is None or target.host is None:
            return "unsupported hub URL"
        try:
            self.policy.check(target.host)
            async with asyncio.timeout(self.request_timeout):
                async with self.session.post(target, data=form, allow_redirects=False) as resp:
                    return None if 200 <= resp.status < 300 else f"hub answered HTTP {resp.status}"
        except (FetchError, aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"

    def app(self) -> web.Application:
        """The callback endpoint: GET answers verification, POST receives content."""
        application = web.Application()
        application.router.add_get("/websub/{feed_id}/{token}", self._verify)
        application.router.add_post("/websub/{feed_id}/{token}", self._deliver)
        return application

    async def _lookup(self, request: web.Request) -> WebSubSubscription | None:
        feed_id, token = request.match_info["feed_id"], request.match_info["token"]
        if len(feed_id) > 64:
            return None
        sub = await self.store.load(feed_id)
        if sub is None or not hmac.compare_digest(sub.token.encode(), token.encode()):
            return None
        return sub

    async def _verify(self, request: web.Request) -> web.Response:
        sub = await self._lookup(request)
        query = request.query
        mode, challenge = query.get("hub.mode"), query.get("hub.challenge", "")
        if sub is None or query.get("hub.topic") != sub.topic:
            return web.Response(status=404)
        now = self.clock()
        if mode == "denied":  # a hub may deny at any time, even a lease it granted
            reason = _UNPRINTABLE.sub("", query.get("hub.reason", ""))[:200]
            error = "denied by hub" + (f": {reason}" if reason else "")
            await self.store.save(replace(sub, state="denied", expires_at=None, updated_at=now,
                                          last_error=error))
            return web.Response(status=200)
        if not challenge or len(challenge) > MAX_CHALLENGE_CHARS:
            return web.Response(status=400)
        if mode == "subscribe" and sub.state == "requested":
            lease = granted_lease(query.get("hub.lease_seconds"), sub.lease_seconds)
            await self.store.save(replace(sub, state="verified", lease_seconds=lease,
                                          expires_at=now + lease, updated_at=now))
        elif mode == "unsubscribe" and sub.state == "unsubscribing":
            await self.store.delete(sub.feed_id)
        else:  # not something we asked for
            return web.Response(status=404)
        return web.Response(text=challenge, headers={"X-Content-Type-Options": "nosniff"})

    async def _deliver(self, request: web.Request) -> web.Response:
        sub = await self._lookup(request)
        if sub is None:
            return web.Response(status=410)  # lets the hub end a lease we no longer hold
        if (request.content_length or 0) > self.max_body_bytes:
            return web.Response(status=413)
        body = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self.max_body_bytes:
                return web.Response(status=413)
        if not verify_signature(sub.secret, bytes(body), request.headers.get("X-Hub-Signature")):
            # Acknowledged like a good delivery so the sender learns nothing; content dropped.
            log.warning("websub delivery ignored: bad signature", extra={"feed_id": sub.feed_id})
            return web.Response(status=202)
        try:
            await self.on_content(sub.feed_id, bytes(body),
                                  request.headers.get("Content-Type", "")[:200])
        except Exception:  # the hub retries a failed delivery; the push path must not die
            log.exception("websub delivery failed", extra={"feed_id": sub.feed_id})
            return web.Response(status=503)
        return web.Response(status=202)

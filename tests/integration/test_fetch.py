"""Fetching against a real local HTTP server: status codes, limits, redirects, the SSRF guard."""

from __future__ import annotations

import time

import pytest
from wirewatch.connectors.errors import BlockedAddressError, FetchError
from wirewatch.connectors.fetch import FetchLimits, Validators, fetch_feed, new_session
from wirewatch.connectors.guard import AddressPolicy
from wirewatch.connectors.parse import parse_feed

from tests.support.feedserver import ETAG, LAST_MODIFIED, feed_server

LOCAL = AddressPolicy(["127.0.0.1/32"])
LIMITS = FetchLimits(deadline_seconds=2.0, max_body_bytes=1_000_000)


async def fetch(port: int, path: str, *, policy: AddressPolicy = LOCAL,
                validators: Validators = Validators(), limits: FetchLimits = LIMITS):
    async with new_session(policy) as session:
        return await fetch_feed(session, f"http://127.0.0.1:{port}{path}", policy=policy,
                                validators=validators, limits=limits)


@pytest.mark.parametrize(
    ("path", "status", "entries", "parse_error"),
    [
        pytest.param("/ok", 200, 1, False, id="200"),
        pytest.param("/chain/5", 200, 1, False, id="five-redirects-followed"),
        pytest.param("/compressed/gzip", 200, 1, False, id="gzip"),
        pytest.param("/compressed/br", 200, 1, False, id="brotli"),
        pytest.param("/wrong-type", 200, 1, False, id="wrong-content-type-still-parsed"),
        pytest.param("/html", 200, 0, True, id="html-instead-of-feed"),
        pytest.param("/empty", 200, 0, True, id="empty-200"),
        pytest.param("/status/404", 404, 0, False, id="404"),
        pytest.param("/status/410", 410, 0, False, id="410"),
        pytest.param("/status/500", 500, 0, False, id="500"),
        pytest.param("/status/503", 503, 0, False, id="503"),
    ],
)
async def test_statuses_and_bodies(path: str, status: int, entries: int, parse_error: bool):
    async with feed_server() as port:
        result = await fetch(port, path)
    assert result.status == status
    if status == 200:
        parsed = parse_feed(result.body, result.content_type)
        assert len(parsed.entries) == entries
        assert (parsed.error is not None) == parse_error
    else:
        assert result.body == b""


async def test_conditional_get_gets_304_and_keeps_validators():
    async with feed_server() as port:
        first = await fetch(port, "/ok")
        second = await fetch(port, "/ok", validators=first.validators)
    assert first.validators == Validators(etag=ETAG, last_modified=LAST_MODIFIED)
    assert first.cache_control == "max-age=900"
    assert second.not_modified and second.body == b""
    assert second.validators == first.validators


async def test_429_reports_retry_after():
    async with feed_server() as port:
        result = await fetch(port, "/status/429")
    assert (result.status, result.retry_after) == (429, "120")


@pytest.mark.parametrize(
    ("path", "message", "retryable"),
    [
        pytest.param("/chain/6", "more than 5 redirects", False, id="six-redirects"),
        pytest.param("/loop", "more than 5 redirects", False, id="redirect-loop"),
        pytest.param("/big", "body larger than 1000000 bytes", False, id="oversized"),
        pytest.param("/bomb", "body larger than 1000000 bytes", False, id="gzip-bomb"),
        pytest.param("/slow", "deadline of 2s exceeded", True, id="slow-drip"),
        pytest.param("/hang", "deadline of 2s exceeded", True, id="hang-before-headers"),
    ],
)
async def test_refused_or_bounded(path: str, message: str, retryable: bool):
    started = time.monotonic()
    async with feed_server() as port:
        with pytest.raises(FetchError, match=message) as caught:
            await fetch(port, path)
    assert caught.value.retryable is retryable
    assert time.monotonic() - started < LIMITS.deadline_seconds + 2.0


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("127.0.0.1", id="loopback"),
        pytest.param("localhost", id="name-resolving-to-loopback"),
        pytest.param("[::1]", id="ipv6-loopback"),
        pytest.param("[::ffff:127.0.0.1]", id="ipv4-mapped-loopback"),
        pytest.param("0.0.0.0", id="unspecified"),
        pytest.param("2130706433", id="decimal-ip"),
        pytest.param("0x7f.0.0.1", id="hex-ip"),
        pytest.param("0177.0.0.1", id="octal-ip"),
        pytest.param("127.1", id="short-ip"),
    ],
)
async def test_ssrf_guard_refuses_local_addresses_by_default(host: str):
    async with feed_server() as port:
        policy = AddressPolicy()
        async with new_session(policy) as session:
            # Blocked by address, or refused outright as an ambiguous (non-canonical) form.
            with pytest.raises(FetchError) as caught:
                await fetch_feed(session, f"http://{host}:{port}/ok", policy=policy,
                                 limits=LIMITS)
    assert caught.value.retryable is False
    assert isinstance(caught.value, BlockedAddressError) or "invalid URL" in str(caught.value)


async def test_redirect_from_an_allowed_host_to_a_blocked_one_is_refused():
    async with feed_server(hosts=("127.0.0.1", "127.0.0.2")) as port:
        assert (await fetch(port, "/ok")).status == 200  # 127.0.0.1 itself is allowed
        with pytest.raises(BlockedAddressError, match="127.0.0.2"):
            await fetch(port, f"/redirect?to=http://127.0.0.2:{port}/ok")


@pytest.mark.parametrize("url", [
    pytest.param("file:///etc/passwd", id="file"),
    pytest.param("ftp://127.0.0.1/feed", id="ftp"),
    pytest.param("gopher://127.0.0.1/", id="gopher"),
])
async def test_only_http_and_https(url: str):
    async with new_session(LOCAL) as session:
        with pytest.raises(FetchError, match="unsupported URL"):
            await fetch_feed(session, url, policy=LOCAL, limits=LIMITS)


async def test_redirect_to_a_non_http_scheme_is_refused():
    async with feed_server() as port:
        with pytest.raises(FetchError, match="unsupported URL"):
            await fetch(port, "/redirect?to=file:///etc/passwd")

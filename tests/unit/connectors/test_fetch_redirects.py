"""A refused redirect names where it was going, and where it came from.

Against the local feed server (tests/support/feedserver.py) on 127.0.0.1 and 127.0.0.2,
with only 127.0.0.1 allowed: 127.0.0.2 is a real, listening SSRF target.
"""

from __future__ import annotations

import pytest
from wirewatch.connectors.errors import BlockedAddressError, FetchError
from wirewatch.connectors.fetch import fetch_feed, new_session
from wirewatch.connectors.guard import AddressPolicy

from tests.support.feedserver import feed_server

POLICY = AddressPolicy(["127.0.0.1/32"])


@pytest.mark.parametrize(("target", "error", "reason"), [
    pytest.param("http://127.0.0.2:{port}/ok", BlockedAddressError,
                 "refusing to fetch from blocked address 127.0.0.2", id="blocked-address"),
    pytest.param("http://169.254.169.254/latest/meta-data/", BlockedAddressError,
                 "refusing to fetch from blocked address 169.254.169.254", id="metadata"),
    pytest.param("file:///etc/passwd", FetchError, "unsupported URL 'file:///etc/passwd'",
                 id="file-scheme"),
])
async def test_a_refused_redirect_names_its_target_and_its_source(
        target: str, error: type[FetchError], reason: str) -> None:
    async with feed_server(hosts=("127.0.0.1", "127.0.0.2")) as port:
        start = f"http://127.0.0.1:{port}/redirect?to={target.format(port=port)}"
        async with new_session(POLICY) as session:
            with pytest.raises(error) as excinfo:
                await fetch_feed(session, start, policy=POLICY)
    message = str(excinfo.value)
    assert message.startswith(f"redirect from {start} to {target.format(port=port)} refused: ")
    assert reason in message
    assert excinfo.value.retryable is False


async def test_too_many_redirects_name_the_last_hop() -> None:
    async with feed_server() as port:
        start = f"http://127.0.0.1:{port}/chain/6"
        async with new_session(POLICY) as session:
            with pytest.raises(FetchError) as excinfo:
                await fetch_feed(session, start, policy=POLICY)
    assert str(excinfo.value) == (
        f"more than 5 redirects from {start}: the last, from http://127.0.0.1:{port}/chain/1 "
        f"to http://127.0.0.1:{port}/chain/0, was not followed")


async def test_a_blocked_first_url_is_reported_as_before() -> None:
    async with new_session(POLICY) as session:
        with pytest.raises(BlockedAddressError, match="^refusing to fetch from blocked address"):
            await fetch_feed(session, "http://10.0.0.1/feed", policy=POLICY)

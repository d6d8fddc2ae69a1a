"""wirewatch.connectors.parse_pool: parsing in bounded worker processes that a bad feed cannot
stall."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from wirewatch.connectors.parse_pool import ParserPool

from tests.conftest import REPO

SAMPLE = (REPO / "streams" / "samples" / "wire-daily.xml").read_bytes()
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">'.encode()
               for i in range(1, 10))
    + b"]><rss><channel><title>&lol9;</title></channel></rss>"
)


@pytest.fixture
def pool():
    parser_pool = ParserPool(workers=2, timeout=10.0)
    yield parser_pool
    parser_pool.close()


async def test_parses_in_a_worker(pool: ParserPool):
    parsed = await pool.parse(SAMPLE, "application/rss+xml")
    assert parsed.error is None
    assert [e.title for e in parsed.entries][0].startswith("OpenAI disbands")


async def test_billion_laughs_is_refused_not_expanded(pool: ParserPool):
    parsed = await pool.parse(BILLION_LAUGHS)
    assert parsed.entries == []
    assert "lollol" not in parsed.title and len(parsed.title) < 20  # never expanded
    assert parsed.error is not None


async def test_a_parse_over_its_time_budget_is_abandoned_and_the_pool_recovers():
    pool = ParserPool(workers=1, timeout=0.2)
    try:
        huge = SAMPLE.replace(b"</channel>", b"<item><title>x</title></item>" * 200_000
                              + b"</channel>")
        slow = await pool.parse(huge)
        assert slow.error == "parse took longer than 0.2s" and slow.entries == []
        pool.timeout = 10.0
        again = await pool.parse(SAMPLE)
        assert again.error is None and len(again.entries) == 3
    finally:
        pool.close()


async def test_memory_limit_turns_a_huge_document_into_an_error():
    pool = ParserPool(workers=1, timeout=30.0, memory_mb=200)
    try:
        huge = SAMPLE.replace(b"</channel>", b"<item><title>" + b"x" * 150_000_000
                              + b"</title></item></channel>")
        parsed = await pool.parse(huge)
        assert parsed.error is not None
        assert "Memory" in parsed.error or "died" in parsed.error
        again = await pool.parse(SAMPLE)
        assert again.error is None
    finally:
        pool.close()


async def test_the_timeout_counts_parsing_not_waiting_for_a_worker():
    item = b"<item><title>x</title><description>" + b"word " * 20_000 + b"</description></item>"
    big = SAMPLE.replace(b"</channel>", item * 60 + b"</channel>")
    pool = ParserPool(workers=1, timeout=30.0)
    try:
        started = time.perf_counter()
        await pool.parse(big)  # also starts the worker
        started = time.perf_counter()
        await pool.parse(big)
        one = time.perf_counter() - started
        pool.timeout = one * 3 + 0.05  # one parse fits easily; four in a row would not
        results = await asyncio.gather(*(pool.parse(big) for _ in range(4)))
    finally:
        pool.close()
    assert [r.error for r in results] == [None] * 4
    assert all(len(r.entries) == 63 for r in results)


async def test_a_timed_out_parse_takes_down_only_its_own_worker():
    # A slow feed's parse times out while another feed's parse runs in the second worker:
    # only the slow one's process is killed, the other parse finishes with all its items.
    item = b"<item><title>x</title><description>" + b"word " * 20_000 + b"</description></item>"
    good = SAMPLE.replace(b"</channel>", item * 60 + b"</channel>")
    slow = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
        {"id": str(n), "url": f"https://e.example/{n}", "content_text": "x"}
        for n in range(600_000)]}).encode()
    pool = ParserPool(workers=2, timeout=60.0)
    try:
        await asyncio.gather(pool.parse(SAMPLE), pool.parse(SAMPLE))  # both workers up
        started = time.perf_counter()
        await pool.parse(good)
        one = time.perf_counter() - started
        pool.timeout = max(one * 2, 0.5)  # the slow feed (seconds) runs out, the good does not
        slow_parse = asyncio.ensure_future(pool.parse(slow, "application/feed+json"))
        # Start the good parse so that it is still running when the slow one times out.
        await asyncio.sleep(pool.timeout - one / 2)  # placing the fault in time
        good_parse = asyncio.ensure_future(pool.parse(good))
        timed_out, parsed = await asyncio.gather(slow_parse, good_parse)
    finally:
        pool.close()
    assert timed_out.error == f"parse took longer than {pool.timeout:g}s"
    assert parsed.error is None and len(parsed.entries) == 63

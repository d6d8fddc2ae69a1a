"""Fuzzing the feed parser: any bytes in, a well-formed ParsedFeed out, never an exception.

tests/unit/connectors/test_parse.py covers each format, truncated and malformed XML, bad
bytes and entity expansion one example at a time; test_parse_pool.py the worker pool's time
and memory limits. Here hypothesis feeds parse_feed arbitrary bytes and mutations of real
feeds (streams/samples/ and the unit tests' documents) and checks the schema everything
downstream relies on: every entry has the fields RawItem needs with the right types, dates
are timezone-aware, `raw_items` builds RawItems from it and each encodes to JSON and back.
Nothing in wirewatch.connectors.parse bounds the length of strings (the fetch caps the body), so no
bound is asserted.

It found four ways one bad item used to cost a JSON Feed all its items (or all its
publishes): a lone surrogate escape ("\\ud800") that no UTF-8 encoder accepts, `"authors": 5`,
`"hubs": 5`, and a date such as "0001-01-01T00:00:00+01:00" that overflows when moved to
UTC; and one way for Atom and RSS: a date feedparser(-rs) reads as year 0.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from wirewatch.connectors.items import raw_items
from wirewatch.connectors.parse import ParsedEntry, ParsedFeed, parse_feed
from wirewatch.connectors.parse_pool import ParserPool
from wirewatch.connectors.records import RawItem, decode_raw_item, encode_raw_item

from tests.conftest import REPO
from tests.unit.connectors.test_parse import ATOM, JSON_FEED, RSS10, RSS20

# feedparser warns when its own `published_parsed` -> `updated_parsed` fallback is used.
pytestmark = pytest.mark.filterwarnings(
    "ignore:To avoid breaking existing software:DeprecationWarning")

SEEDS = [path.read_bytes() for path in sorted((REPO / "streams" / "samples").iterdir())] + [
    RSS20, RSS10, ATOM, JSON_FEED]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CONTENT_TYPES = ["", "application/rss+xml", "application/atom+xml", "application/feed+json",
                 "text/html; charset=latin-1"]
# Fragments that have broken feed parsers: references to surrogates and NUL, CDATA edges,
# DTDs and undefined entities, dates at the ends of the calendar, scripts, odd links.
NASTY = [b"&#xD800;", b"&#0;", b"&#x110000;", b"&#99999999999;", b"<![CDATA[", b"]]>",
         b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"&lt;script&gt;", b"<script>x</script>",
         b"<!DOCTYPE x [<!ENTITY a 'bb'>]>", b"&a;", b"<!ENTITY % p SYSTEM 'file:///etc/passwd'>",
         b"<pubDate>Mon, 02 Mar 9999 99:00:00 +9999</pubDate>",
         b"<updated>0001-01-01T00:00:00+14:00</updated>",
         b"<published>9999-12-31T23:59:59-14:00</published>",
         b"<dc:date>0000-00-00</dc:date>", b"<ttl>99999999999999999999999</ttl>",
         b"<link>javascript:alert(1)</link>", b'<link href="http://[x"/>', b"\\ud800",
         b'"date_published": "0001-01-01T00:00:00+01:00", ', b'"authors": 5, ', b'"hubs": 5, ',
         b'"items": {}, ', b"{", b"}", b"[", b"]", b"<", b">", b'"', b"'", b"&", b"\r\n"]


@st.composite
def mutated_feed(draw: st.DrawFn) -> bytes:
    """A real feed with a few bytes flipped, cut, inserted, deleted or duplicated."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(["flip", "cut", "insert", "delete", "repeat"]))
        if operation == "flip":
            data[at] = draw(st.integers(0, 255))
        elif operation == "cut":
            del data[at:]
        elif operation == "insert":
            data[at:at] = draw(st.one_of(st.sampled_from(NASTY), st.binary(max_size=8)))
        elif operation == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        else:
            end = draw(st.integers(at, min(len(data), at + 256)))
            data[at:at] = data[at:end] * draw(st.integers(1, 4))
    return bytes(data)


bodies = st.one_of(st.binary(max_size=4096), mutated_feed())


def check_schema(feed: ParsedFeed) -> list[RawItem]:
    """The ParsedFeed contract, then RawItems built from it that survive JSON both ways."""
    assert isinstance(feed, ParsedFeed)
    assert isinstance(feed.title, str)
    assert feed.error is None or isinstance(feed.error, str)
    assert feed.ttl_minutes is None or isinstance(feed.ttl_minutes, int)
    assert isinstance(feed.hub_urls, tuple) and all(isinstance(u, str) for u in feed.hub_urls)
    assert feed.self_url is None or isinstance(feed.self_url, str)
    assert isinstance(feed.entries, list)
    for entry in feed.entries:
        assert isinstance(entry, ParsedEntry)
        for name in ("guid", "url", "author"):
            value = getattr(entry, name)
            assert value is None or (isinstance(value, str) and value), (name, value)
        for name in ("title", "summary", "content"):
            assert isinstance(getattr(entry, name), str), name
        if entry.published is not None:
            assert isinstance(entry.published, datetime)
            assert entry.published.utcoffset() is not None, "naive date"
    items = raw_items(feed, feed_id="f0", feed_url="https://feeds.example/f", source="Example",
                      fetched_at=NOW)
    # One RawItem per distinct item id (an item listed twice is taken once).
    assert 0 < len(items) <= len(feed.entries) or not feed.entries
    assert len({item.item_id for item in items}) == len(items)
    for item in items:
        assert decode_raw_item(encode_raw_item(item)) == item
        assert item.published is None or item.published <= NOW + timedelta(minutes=10)
        # Only http(s) links leave the connector; a dropped one leaves a note instead.
        assert item.url == "" or item.url.startswith(("http://", "https://")), item.url
        assert item.original_url is None or item.original_url.lower().startswith(
            ("http://", "https://")), item.original_url
    return items


YEAR_ZERO_ATOM = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
                  b"<entry><title>a</title><id>i</id><updated>0001-01-01T00:00:00+14:00</updated>"
                  b"</entry><entry><title>b</title><id>j</id></entry></feed>")


@given(bodies, st.sampled_from(CONTENT_TYPES))
@example(YEAR_ZERO_ATOM, "").via("discovered: year 0 cost the feed every entry")
@example(b'{"items": [{"id": "1", "title": "a\\ud800"}]}', "").via(
    "discovered: a lone surrogate failed every publish of the feed")
def test_any_body_parses_to_the_schema_without_raising(body: bytes, content_type: str) -> None:
    feed = parse_feed(body, content_type)
    check_schema(feed)
    if body == YEAR_ZERO_ATOM:
        assert [entry.title for entry in feed.entries] == ["a", "b"]


# Links as hostile feeds write them: schemes in any case, behind spaces and controls.
_SCHEMES = st.sampled_from(["javascript", "JavaScript", "data", "DATA", "file", "vbscript",
                            "http", "HTTPS", "ftp", "java\tscript", ""])
_LINKS = st.builds(lambda before, scheme, rest: f"{before}{scheme}:{rest}" if scheme
                   else f"{before}{rest}",
                   st.text(st.sampled_from(" \t\n\x00\x01\x1f"), max_size=3), _SCHEMES,
                   st.sampled_from(["//example.com/a", "alert(1)", "//10.0.0.1/x",
                                    "//[::1]/", "text/html,<b>", "///etc/passwd", "/relative",
                                    "//localhost:8080/"]))


@given(st.lists(_LINKS, min_size=1, max_size=5), st.booleans())
def test_only_http_links_leave_the_connector(links: list[str], as_json: bool) -> None:
    if as_json:
        body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
            {"id": str(i), "url": link, "title": f"t{i}"} for i, link in enumerate(links)]})
    else:
        body = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>' + "".join(
            f"<item><guid>{i}</guid><title>t{i}</title><link>"
            f"{''.join(c if c.isprintable() or c in chr(9) + chr(10) else '' for c in link)}"
            "</link></item>" for i, link in enumerate(links)) + "</channel></rss>"
        body = body.replace("&", "&amp;").replace("<b>", "&lt;b&gt;")
    for item in check_schema(parse_feed(body.encode(), "")):
        if item.url:
            assert "10.0.0.1" not in item.url and "[::1]" not in item.url
            assert "localhost" not in item.url
        else:
            assert item.note == "" or item.note.startswith("link dropped: ")


# --- JSON Feed: one bad item must not cost the others -----------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(), st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1),
    st.sampled_from(["", "2026-03-02T10:00:00Z", "0001-01-01T00:00:00+01:00",
                     "9999-12-31T23:59:59-01:00", "2026-02-30T00:00:00", "not a date",
                     "https://example.com/a", "javascript:alert(1)", "http://[oops"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8)
ITEM_KEYS = ["id", "url", "title", "summary", "content_html", "content_text", "author",
             "authors", "date_published", "date_modified"]
items_ = st.lists(st.one_of(
    st.dictionaries(st.sampled_from(ITEM_KEYS), json_values, max_size=len(ITEM_KEYS)),
    json_values), max_size=6)
FEED_KEYS = ["version", "title", "feed_url", "home_page_url", "hubs", "next_url"]


@given(items_, st.dictionaries(st.sampled_from(FEED_KEYS), json_values))
def test_a_json_feed_keeps_every_item_that_is_an_object(items: list[Any],
                                                        extra: dict[str, Any]) -> None:
    document = {**extra, "items": items}
    body = json.dumps(document).encode()  # lone surrogates become "\udxxx" escapes
    feed = parse_feed(body, "application/feed+json")
    assert feed.error is None, feed.error
    assert len(feed.entries) == sum(isinstance(item, dict) for item in items)
    check_schema(feed)


# --- the worker pool is the same parser behind a process boundary -----------------------

@pytest.fixture(scope="module")
def pool_loop() -> Iterator[tuple[ParserPool, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    pool = ParserPool(workers=2, timeout=30.0)
    try:
        async def warm_up() -> None:  # start both workers before hypothesis times anything
            await asyncio.gather(*(pool.parse(seed) for seed in SEEDS))

        loop.run_until_complete(warm_up())
        yield pool, loop
    finally:
        pool.close()
        loop.close()


@settings(max_examples=25, deadline=timedelta(seconds=5),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies, st.sampled_from(CONTENT_TYPES))
def test_the_parser_pool_gives_what_parse_feed_gives(
        pool_loop: tuple[ParserPool, asyncio.AbstractEventLoop], body: bytes,
        content_type: str) -> None:
    pool, loop = pool_loop
    pooled = loop.run_until_complete(pool.parse(body, content_type))
    assert pooled == parse_feed(body, content_type)
    check_schema(pooled)


def test_samples_are_seeds_that_parse() -> None:
    """The fuzzing starts from real feeds: each seed parses to entries without error."""
    assert len(SEEDS) >= 7
    for seed in SEEDS:
        feed = parse_feed(seed)
        assert feed.entries and feed.error is None, seed[:80]
        check_schema(feed)


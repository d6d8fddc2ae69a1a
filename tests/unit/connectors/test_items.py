"""wirewatch.connectors.items.raw_items: identity, canonical URLs, dates and safe links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wirewatch.connectors import metrics
from wirewatch.connectors.identity import content_hash, item_id
from wirewatch.connectors.items import MAX_ITEMS_PER_FETCH, bounded, raw_items
from wirewatch.connectors.parse import ParsedEntry, ParsedFeed, parse_feed
from wirewatch.connectors.records import RawItem, decode_raw_item, encode_raw_item

FETCHED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEED_ID = "f1"


def entry(**overrides: object) -> ParsedEntry:
    fields: dict[str, object] = {
        "guid": None, "url": None, "title": "Title", "summary": "", "content": "",
        "author": None, "published": None,
    }
    fields.update(overrides)
    return ParsedEntry(**fields)  # type: ignore[arg-type]


def build(*entries: ParsedEntry) -> list[RawItem]:
    return raw_items(ParsedFeed(title="F", entries=list(entries)), feed_id=FEED_ID,
                     feed_url="https://example.com/rss", source="Example",
                     fetched_at=FETCHED_AT)


def test_fields_copied_from_feed_and_entry() -> None:
    [item] = build(entry(guid="g", url="https://example.com/a", title="T", summary="S",
                         content="C", author="A", published=FETCHED_AT))
    assert (item.feed_id, item.feed_url, item.source, item.fetched_at) == (
        FEED_ID, "https://example.com/rss", "Example", FETCHED_AT)
    assert (item.guid, item.title, item.summary, item.content, item.author) == (
        "g", "T", "S", "C", "A")
    assert item.is_update is False


def test_empty_feed_gives_no_items() -> None:
    assert build() == []


@pytest.mark.parametrize(
    ("entries", "distinct"),
    [
        pytest.param([entry(guid="same", url="https://example.com/1"),
                      entry(guid="same", url="https://example.com/2")], 2,
                     id="reused-guid-different-urls"),
        pytest.param([entry(guid="a", url="https://example.com/1"),
                      entry(guid="b", url="https://example.com/1")], 2,
                     id="distinct-guids-same-url"),
        pytest.param([entry(guid="same", url="https://example.com/1?utm_source=a"),
                      entry(guid="same", url="https://example.com/1?utm_source=b")], 1,
                     id="reused-guid-same-canonical-url-is-one-item"),
    ],
)
def test_guid_collisions(entries: list[ParsedEntry], distinct: int) -> None:
    items = build(*entries)  # one item per identity: the same item listed twice is one
    assert len(items) == len({item.item_id for item in items}) == distinct


def test_colliding_guids_use_guid_plus_url_and_unique_guid_uses_guid() -> None:
    items = build(entry(guid="same", url="https://example.com/1"),
                  entry(guid="same", url="https://example.com/2"),
                  entry(guid="solo", url="https://example.com/3"))
    assert items[0].item_id == item_id(FEED_ID, guid="same", url="https://example.com/1",
                                       title="", content="", guid_collides=True)
    assert items[2].item_id == item_id(FEED_ID, guid="solo", url=None, title="", content="")


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        pytest.param(None, None, id="missing-stays-none"),
        pytest.param(FETCHED_AT - timedelta(days=3), FETCHED_AT - timedelta(days=3),
                     id="past-kept"),
        pytest.param(FETCHED_AT + timedelta(minutes=5), FETCHED_AT + timedelta(minutes=5),
                     id="slightly-ahead-within-tolerance-kept"),
        pytest.param(FETCHED_AT + timedelta(minutes=10), FETCHED_AT + timedelta(minutes=10),
                     id="exactly-at-tolerance-kept"),
        pytest.param(FETCHED_AT + timedelta(minutes=11), FETCHED_AT, id="future-clamped"),
        pytest.param(FETCHED_AT + timedelta(days=365), FETCHED_AT, id="far-future-clamped"),
    ],
)
def test_published_dates(published: datetime | None, expected: datetime | None) -> None:
    [item] = build(entry(guid="g", published=published))
    assert item.published == expected


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        pytest.param("HTTPS://Example.com/a/?utm_source=rss&x=1#c",
                     "https://example.com/a?x=1", id="canonicalised"),
        pytest.param("https://example.com/a", "https://example.com/a", id="already-canonical"),
        pytest.param(None, "", id="no-url"),
    ],
)
def test_url_canonicalised_original_kept(url: str | None, canonical: str) -> None:
    [item] = build(entry(guid="g", url=url))
    assert item.url == canonical
    assert item.original_url == url


@pytest.mark.parametrize(
    ("summary", "content", "hashed_content"),
    [
        pytest.param("S", "C", "C", id="content-preferred"),
        pytest.param("S", "", "S", id="summary-when-no-content"),
    ],
)
def test_content_hash_uses_content_else_summary(
    summary: str, content: str, hashed_content: str,
) -> None:
    [item] = build(entry(title="T", summary=summary, content=content))
    assert item.content_hash == content_hash("T", hashed_content)
    assert item.item_id == item_id(FEED_ID, guid=None, url=None, title="T",
                                   content=hashed_content)


def test_a_feed_is_cut_to_the_first_items_and_says_so() -> None:
    entries = [entry(guid=f"g{n}", url=f"https://e.example/{n}", title=f"t{n}")
               for n in range(MAX_ITEMS_PER_FETCH + 5)]
    cut = bounded(ParsedFeed(title="t", entries=entries))
    assert [e.guid for e in cut.entries] == [f"g{n}" for n in range(MAX_ITEMS_PER_FETCH)]
    assert cut.error == f"kept the first {MAX_ITEMS_PER_FETCH} of {MAX_ITEMS_PER_FETCH + 5} items"
    small = ParsedFeed(title="t", entries=entries[:3])
    assert bounded(small) is small


def test_an_item_listed_twice_in_one_fetch_is_taken_once() -> None:
    same = entry(guid="same", url="https://e.example/1", title="t")
    other = entry(guid="other", url="https://e.example/2", title="u")
    items = build(same, other, same, same)
    assert [i.guid for i in items] == ["same", "other"]


# --- links that may not leave the connector ---------------------------------------------------

def _feed_with_links(*links: str) -> ParsedFeed:
    return ParsedFeed(entries=[ParsedEntry(guid=f"g{i}", url=link, title=f"T{i}", summary="",
                                           content="", author=None, published=None)
                               for i, link in enumerate(links)])


def _items(parsed: ParsedFeed) -> list[RawItem]:
    return raw_items(parsed, feed_id="f", feed_url="https://feed.example/news/rss",
                     source="feed", fetched_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(("link", "reason", "note"), [
    pytest.param("javascript:alert(1)", "unsafe_scheme", "javascript: links", id="javascript"),
    pytest.param("JavaScript:alert(1)", "unsafe_scheme", "javascript: links", id="any-case"),
    pytest.param("  \x01javascript:alert(1)", "unsafe_scheme", "javascript: links",
                 id="leading-space-and-control"),
    pytest.param("java\tscript:alert(1)", "unsafe_scheme", "javascript: links",
                 id="tab-inside-the-scheme"),
    pytest.param("data:text/html;base64,PHNjcmlwdD4=", "unsafe_scheme", "data: links",
                 id="data"),
    pytest.param("DATA:text/html,<b>", "unsafe_scheme", "data: links", id="data-upper"),
    pytest.param("file:///etc/passwd", "unsafe_scheme", "file: links", id="file"),
    pytest.param("vbscript:msgbox", "unsafe_scheme", "vbscript: links", id="vbscript"),
    pytest.param("http://127.0.0.1/admin", "private_address", "private address (127.0.0.1)",
                 id="loopback"),
    pytest.param("http://10.1.2.3/x", "private_address", "private address (10.1.2.3)",
                 id="private"),
    pytest.param("http://[::1]/x", "private_address", "private address (::1)", id="ipv6"),
    pytest.param("http://localhost:8080/x", "private_address", "private address (localhost)",
                 id="localhost"),
    pytest.param("http://2130706433/x", "private_address", "private address (2130706433)",
                 id="decimal-address"),
    pytest.param("//169.254.169.254/meta", "private_address", "(169.254.169.254)",
                 id="protocol-relative-metadata"),
    pytest.param("http:alert(1)", "invalid_url", "not a valid http(s) URL (no host)",
                 id="http-without-host"),
    pytest.param("https://[::1/x", "invalid_url", "unbalanced [", id="unbalanced-bracket"),
])
def test_unsafe_links_are_dropped_with_a_note_a_log_line_and_a_count(
        link: str, reason: str, note: str, caplog: pytest.LogCaptureFixture) -> None:
    counter = metrics.LINKS_DROPPED.labels(reason)
    before = counter._value.get()
    (item,) = _items(_feed_with_links(link))
    assert (item.url, item.original_url) == ("", None)
    assert item.note.startswith("link dropped: ") and note in item.note
    assert counter._value.get() == before + 1
    assert "https://feed.example/news/rss" in caplog.text and reason in caplog.text
    assert decode_raw_item(encode_raw_item(item)) == item


@pytest.mark.parametrize(("link", "expected"), [
    pytest.param("https://example.com/a", "https://example.com/a", id="https"),
    pytest.param("  HTTP://Example.com/a ", "http://example.com/a", id="upper-case-spaces"),
    pytest.param("/story/1", "https://feed.example/story/1", id="relative-resolved"),
    pytest.param("a1.example/x", "https://feed.example/news/a1.example/x",
                 id="relative-path"),
    pytest.param("https://8.8.8.8/x", "https://8.8.8.8/x", id="public-address"),
])
def test_http_links_are_kept(link: str, expected: str) -> None:
    (item,) = _items(_feed_with_links(link))
    assert item.url == expected and item.note == ""


def test_bounded_notes_the_dropped_links_on_the_feed() -> None:
    parsed = bounded(_feed_with_links("javascript:a()", "data:x", "http://10.0.0.1/",
                                      "https://ok.example/"))
    assert [entry.url for entry in parsed.entries] == [None, None, None, "https://ok.example/"]
    assert parsed.error == ("dropped 1 item link(s) (private_address), e.g. it points to a "
                            "private address (10.0.0.1); dropped 2 item link(s) "
                            "(unsafe_scheme), e.g. data: links are not kept (only http and "
                            "https), and 1 other kind(s)")
    assert bounded(_feed_with_links("https://ok.example/")).error is None


def test_links_feedparser_rs_blanks_are_named_and_counted() -> None:
    """feedparser-rs empties links to private hosts without a word; the connector says why."""
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            b"<item><title>Router</title><link>http://192.168.1.1/admin</link></item>"
            b"<item><title>Empty</title><link></link></item>"
            b"<item><title>Fine</title><link>https://ok.example/a</link></item>"
            b"</channel></rss>")
    items = {item.title: item for item in _items(bounded(parse_feed(body)))}
    assert items["Router"].note == "link dropped: it points to a private address (192.168.1.1)"
    assert (items["Empty"].url, items["Empty"].note) == ("", "")
    assert (items["Fine"].url, items["Fine"].note) == ("https://ok.example/a", "")


def test_records_written_before_notes_still_decode() -> None:
    old = (b'{"item_id":"i","feed_id":"f","feed_url":"https://x/rss","source":"x",'
           b'"url":"https://x/a","title":"T","fetched_at":"2026-01-01T00:00:00Z"}')
    assert decode_raw_item(old).note == ""

"""wirewatch.connectors.items.raw_items: identity, canonical URLs and date handling per entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wirewatch.connectors.identity import content_hash, item_id
from wirewatch.connectors.items import MAX_ITEMS_PER_FETCH, bounded, raw_items
from wirewatch.connectors.parse import ParsedEntry, ParsedFeed
from wirewatch.connectors.records import RawItem

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

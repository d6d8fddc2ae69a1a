"""wirewatch.connectors.identity: canonical URLs, item ids and content hashes."""

from __future__ import annotations

import pytest
from wirewatch.connectors.identity import canonical_url, content_hash, feed_id, item_id


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://example.com/a?utm_source=x&utm_medium=y&b=1",
                     "https://example.com/a?b=1", id="utm-params-stripped"),
        pytest.param("https://example.com/a?UTM_Campaign=x&b=1",
                     "https://example.com/a?b=1", id="tracking-match-case-insensitive"),
        pytest.param("https://example.com/a?fbclid=abc&gclid=def",
                     "https://example.com/a", id="fbclid-gclid-stripped-empty-query"),
        pytest.param("https://example.com/a?id=7&fbclid=abc",
                     "https://example.com/a?id=7", id="fbclid-stripped-real-param-kept"),
        pytest.param("HTTPS://WWW.Example.COM/Path", "https://www.example.com/Path",
                     id="scheme-host-lowercased-path-case-kept"),
        pytest.param("http://example.com:80/a", "http://example.com/a", id="http-default-port"),
        pytest.param("https://example.com:443/a", "https://example.com/a",
                     id="https-default-port"),
        pytest.param("https://example.com:80/a", "https://example.com:80/a",
                     id="port-80-on-https-kept"),
        pytest.param("http://example.com:8080/a", "http://example.com:8080/a",
                     id="non-default-port-kept"),
        pytest.param("https://example.com/a#section-2", "https://example.com/a",
                     id="fragment-dropped"),
        pytest.param("https://example.com/a/b/", "https://example.com/a/b",
                     id="trailing-slash-removed"),
        pytest.param("https://example.com/", "https://example.com/", id="root-slash-kept"),
        pytest.param("https://example.com", "https://example.com/", id="empty-path-is-root"),
        pytest.param("https://example.com/?a=1", "https://example.com/?a=1",
                     id="root-with-query"),
        pytest.param("https://example.com/a?z=1&b=2&a=3", "https://example.com/a?a=3&b=2&z=1",
                     id="query-sorted"),
        pytest.param("https://example.com/a?flag&b=2", "https://example.com/a?b=2&flag=",
                     id="blank-value-kept"),
        pytest.param("https://example.com./a", "https://example.com/a",
                     id="trailing-dot-host"),
        pytest.param("  https://example.com/a  ", "https://example.com/a",
                     id="whitespace-stripped"),
        pytest.param("http://[2001:DB8::1]/feed", "http://[2001:db8::1]/feed",
                     id="ipv6-host-bracketed-lowercased"),
        pytest.param("http://[2001:db8::1]:80/feed", "http://[2001:db8::1]/feed",
                     id="ipv6-default-port"),
        pytest.param("http://[2001:db8::1]:8080/feed", "http://[2001:db8::1]:8080/feed",
                     id="ipv6-non-default-port"),
        pytest.param("HTTPS://Example.com:443/a/?utm_source=x&b=2&a=1#top",
                     "https://example.com/a?a=1&b=2", id="docstring-example"),
        pytest.param("ftp://Example.COM/File/?utm_source=x#f",
                     "ftp://Example.COM/File/?utm_source=x#f", id="ftp-passthrough"),
        pytest.param("mailto:Someone@Example.com", "mailto:Someone@Example.com",
                     id="mailto-passthrough"),
        pytest.param(" /relative/path/?utm_source=x ", "/relative/path/?utm_source=x",
                     id="relative-passthrough-stripped"),
        pytest.param("http:///no-host", "http:///no-host", id="http-without-host-passthrough"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTP://Example.com:80/a/b/?utm_source=x&z=1&a=2#frag")
    assert canonical_url(once) == once


FEED = "feed-1"


def _id(**overrides: object) -> str:
    kwargs: dict[str, object] = {"guid": None, "url": None, "title": "Title", "content": "Body"}
    kwargs.update(overrides)
    return item_id(FEED, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        pytest.param({"guid": "g1", "url": "https://a.example/1"},
                     {"guid": "g1", "url": "https://a.example/2", "title": "Other"},
                     True, id="guid-preferred-over-url-and-text"),
        pytest.param({"guid": "g1"}, {"guid": "g2"}, False, id="different-guids"),
        pytest.param({"guid": " g1 "}, {"guid": "g1"}, True, id="guid-whitespace-ignored"),
        pytest.param({"guid": "g1", "url": "https://a.example/1", "guid_collides": True},
                     {"guid": "g1", "url": "https://a.example/2", "guid_collides": True},
                     False, id="colliding-guid-split-by-url"),
        pytest.param({"guid": "g1", "url": "https://a.example/1", "guid_collides": True},
                     {"guid": "g1", "url": "https://a.example/1"},
                     False, id="guid-plus-url-differs-from-guid-alone"),
        pytest.param({"guid": "g1", "guid_collides": True}, {"guid": "g1"},
                     True, id="colliding-guid-without-url-falls-back-to-guid"),
        pytest.param({"url": "https://a.example/1?utm_source=rss"},
                     {"url": "https://a.example/1?utm_medium=email", "title": "Edited"},
                     True, id="url-fallback-canonicalised"),
        pytest.param({"url": "https://a.example/1"}, {"url": "https://a.example/2"},
                     False, id="url-fallback-different-pages"),
        pytest.param({"guid": "", "url": "https://a.example/1"},
                     {"guid": "   ", "url": "https://a.example/1"},
                     True, id="blank-guid-means-no-guid"),
        pytest.param({"title": "T", "content": "C"}, {"title": " T ", "content": "C\n"},
                     True, id="text-fallback-strips"),
        pytest.param({"title": "T", "content": "C"}, {"title": "T", "content": "D"},
                     False, id="text-fallback-content-matters"),
        pytest.param({"title": "T", "content": "C"}, {"title": "U", "content": "C"},
                     False, id="text-fallback-title-matters"),
        pytest.param({"title": "ab", "content": "c"}, {"title": "a", "content": "bc"},
                     False, id="text-fallback-fields-separated"),
        pytest.param({"guid": "https://a.example/1"}, {"url": "https://a.example/1"},
                     False, id="guid-and-url-namespaces-distinct"),
    ],
)
def test_item_id(left: dict[str, object], right: dict[str, object], same: bool) -> None:
    assert (_id(**left) == _id(**right)) is same


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"guid": "g1"}, id="guid"),
        pytest.param({"url": "https://a.example/1"}, id="url"),
        pytest.param({"title": "T", "content": "C"}, id="text"),
    ],
)
def test_item_id_scoped_by_feed(fields: dict[str, str]) -> None:
    base = {"guid": None, "url": None, "title": "", "content": ""} | fields
    assert item_id("feed-a", **base) != item_id("feed-b", **base)  # type: ignore[arg-type]
    assert item_id("feed-a", **base) == item_id("feed-a", **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        pytest.param(("T", "C"), ("T", "C"), True, id="equal"),
        pytest.param(("T", "C"), (" T", "C \n"), True, id="surrounding-whitespace-ignored"),
        pytest.param(("T", "C"), ("T2", "C"), False, id="title-changed"),
        pytest.param(("T", "C"), ("T", "C2"), False, id="content-changed"),
        pytest.param(("TC", ""), ("T", "C"), False, id="boundary-matters"),
    ],
)
def test_content_hash(left: tuple[str, str], right: tuple[str, str], same: bool) -> None:
    assert (content_hash(*left) == content_hash(*right)) is same


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        pytest.param("https://Example.com/rss/?utm_source=x", "https://example.com/rss",
                     True, id="canonical-equal"),
        pytest.param("https://example.com/rss", "https://example.com/atom", False,
                     id="different-feeds"),
    ],
)
def test_feed_id(left: str, right: str, same: bool) -> None:
    assert len(feed_id(left)) == 16
    assert (feed_id(left) == feed_id(right)) is same

"""wirewatch.connectors.parse.parse_feed: RSS, RDF, Atom and JSON Feed; malformed input never
raises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from wirewatch.connectors.parse import ParsedEntry, parse_feed

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
  <title>Wire RSS</title><link>https://example.com/</link><ttl>45</ttl>
  <item>
    <title>First</title><link>https://example.com/1</link>
    <guid isPermaLink="false">rss-1</guid>
    <description>Summary one</description>
    <author>ed@example.com (Ed)</author>
    <pubDate>Mon, 02 Mar 2026 10:00:00 +0100</pubDate>
  </item>
  <item><title>Second</title><link>https://example.com/2</link></item>
</channel></rss>"""

RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://example.com/"><title>Wire RDF</title>
    <link>https://example.com/</link><description>d</description></channel>
  <item rdf:about="https://example.com/r1">
    <title>RDF one</title><link>https://example.com/r1</link>
    <description>RDF summary</description>
    <dc:creator>Rita</dc:creator><dc:date>2026-03-02T09:00:00Z</dc:date>
  </item>
</rdf:RDF>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Wire Atom</title><id>urn:feed</id><updated>2026-03-02T08:00:00Z</updated>
  <entry>
    <title>Atom one</title><id>urn:entry:1</id>
    <link rel="alternate" href="https://example.com/a1"/>
    <updated>2026-03-02T08:00:00Z</updated><published>2026-03-01T07:30:00Z</published>
    <author><name>Ann</name></author>
    <summary>Atom summary</summary>
    <content type="html">&lt;p&gt;Atom body&lt;/p&gt;</content>
  </entry>
  <entry><title>Atom two</title><id>urn:entry:2</id>
    <updated>2026-03-02T06:00:00+02:00</updated></entry>
</feed>"""

JSON_FEED = b"""{
  "version": "https://jsonfeed.org/version/1.1", "title": "Wire JSON",
  "items": [
    {"id": "j1", "url": "https://example.com/j1", "title": "JSON one",
     "content_html": "<p>html</p>", "content_text": "text", "summary": "sum",
     "authors": [{"name": "Jo"}, {"name": "Kim"}, {"url": "https://no-name"}],
     "date_published": "2026-03-02T10:00:00Z"},
    {"id": 2, "content_text": "only text", "author": {"name": "Legacy"},
     "date_modified": "2026-03-02T12:00:00+02:00"},
    {"id": "", "title": "no id", "date_published": "not a date"},
    "not an object"
  ]
}"""


def test_rss20() -> None:
    feed = parse_feed(RSS20, "application/rss+xml")
    assert feed.error is None
    assert feed.title == "Wire RSS"
    assert feed.ttl_minutes == 45
    first, second = feed.entries
    assert first == ParsedEntry(
        guid="rss-1", url="https://example.com/1", title="First", summary="Summary one",
        content="", author="ed@example.com (Ed)",
        published=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    assert (second.guid, second.url, second.published) == (None, "https://example.com/2", None)


def test_rss10_rdf() -> None:
    feed = parse_feed(RSS10)
    assert feed.error is None
    assert feed.title == "Wire RDF"
    [item] = feed.entries
    assert (item.url, item.title, item.summary, item.author) == (
        "https://example.com/r1", "RDF one", "RDF summary", "Rita")
    assert item.published == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_atom() -> None:
    feed = parse_feed(ATOM, "application/atom+xml")
    assert feed.error is None
    assert feed.title == "Wire Atom"
    assert feed.ttl_minutes is None
    first, second = feed.entries
    assert (first.guid, first.url, first.title, first.author) == (
        "urn:entry:1", "https://example.com/a1", "Atom one", "Ann")
    assert first.summary == "Atom summary"
    assert first.content == "<p>Atom body</p>"
    assert first.published == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    # no <published>: falls back to <updated>, converted to UTC
    assert second.published == datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/feed+json", JSON_FEED, id="by-content-type"),
        pytest.param("", JSON_FEED, id="sniffed-from-brace"),
        pytest.param("text/plain", b"\n  " + JSON_FEED, id="sniffed-after-whitespace"),
    ],
)
def test_json_feed(content_type: str, body: bytes) -> None:
    feed = parse_feed(body, content_type)
    assert feed.error is None
    assert feed.title == "Wire JSON"
    assert len(feed.entries) == 3  # the non-object item is skipped
    first, second, third = feed.entries
    assert first == ParsedEntry(
        guid="j1", url="https://example.com/j1", title="JSON one", summary="sum",
        content="<p>html</p>", author="Jo, Kim",
        published=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    )
    assert (second.guid, second.content, second.author, second.title) == (
        "2", "only text", "Legacy", "")
    assert second.published == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert (third.guid, third.published, third.author) == (None, None, None)


@pytest.mark.parametrize(
    ("body", "content_type", "error_part"),
    [
        pytest.param(b"{not json", "", "invalid JSON Feed", id="invalid-json"),
        pytest.param(b'{"version": "x", "title": "t"}', "", "no 'items' list",
                     id="json-without-items"),
        pytest.param(b'{"items": {"a": 1}}', "", "no 'items' list", id="items-not-a-list"),
        pytest.param(b"[1, 2]", "application/json", "no 'items' list",
                     id="json-array-by-content-type"),
        pytest.param(b'{"items": ["\xff\xfe"]}', "", "invalid JSON Feed",
                     id="json-invalid-utf8"),
        pytest.param(b'{"items":' + b"[" * 100_000, "", "invalid JSON Feed",
                     id="json-nested-too-deep"),
    ],
)
def test_bad_json(body: bytes, content_type: str, error_part: str) -> None:
    feed = parse_feed(body, content_type)
    assert feed.entries == []
    assert feed.error is not None and error_part in feed.error


def test_truncated_xml_keeps_parsed_entries_and_sets_error() -> None:
    body = RSS20[: RSS20.index(b"<title>Second")] + b"<title>Sec"
    feed = parse_feed(body)
    assert feed.error is not None
    assert feed.title == "Wire RSS"
    assert feed.ttl_minutes == 45
    assert [e.guid for e in feed.entries][:1] == ["rss-1"]
    assert feed.entries[0].title == "First"


def test_malformed_xml_mid_document_keeps_earlier_entries() -> None:
    body = RSS20.replace(b"<title>Second</title>", b"<title>Sec & ond</title>")
    feed = parse_feed(body)
    assert feed.error is not None
    assert feed.entries[0].guid == "rss-1"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<!DOCTYPE html><html><head><title>Home</title></head>"
                     b"<body><p>Welcome</p></body></html>", id="well-formed-html"),
        pytest.param(b"<html><body><p>Login<br></p></body></html>", id="sloppy-html"),
        pytest.param(b"<html><head><title>Parked</title></head><body/></html>",
                     id="html-with-title-only"),
        pytest.param(b"", id="empty"),
        pytest.param(b"  \n\t ", id="whitespace-only"),
        pytest.param(b"plain text, not markup", id="plain-text"),
    ],
)
def test_not_a_feed_gives_error_and_no_entries(body: bytes) -> None:
    feed = parse_feed(body, "text/html")
    assert feed.entries == []
    assert feed.error


def test_channel_without_items_is_a_valid_empty_feed() -> None:
    feed = parse_feed(b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    assert (feed.title, feed.entries, feed.error) == ("Quiet", [], None)


@pytest.mark.parametrize(
    ("title_bytes", "item_title_bytes"),
    [
        pytest.param(b"T\xff\xfe", b"A\xc3", id="invalid-utf8"),
        pytest.param(b"T\x00", b"A\x00B", id="nul-bytes"),
        pytest.param(b"T\x01\x02", b"A\x1b", id="control-chars"),
    ],
)
def test_bad_bytes_do_not_raise(title_bytes: bytes, item_title_bytes: bytes) -> None:
    body = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>'
            + title_bytes + b"</title><item><title>" + item_title_bytes
            + b"</title><guid>g1</guid></item></channel></rss>")
    feed = parse_feed(body)
    assert [e.guid for e in feed.entries] == ["g1"]
    assert feed.entries[0].title.startswith("A")
    assert feed.error is not None  # the document was not well-formed as declared


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        pytest.param(b"<ttl>60</ttl>", 60, id="number"),
        pytest.param(b"<ttl> 15 </ttl>", 15, id="padded"),
        pytest.param(b"<ttl>soon</ttl>", None, id="garbage"),
        pytest.param(b"", None, id="absent"),
    ],
)
def test_ttl(ttl: bytes, expected: int | None) -> None:
    body = (b'<rss version="2.0"><channel><title>T</title>' + ttl
            + b"<item><guid>g</guid></item></channel></rss>")
    assert parse_feed(body).ttl_minutes == expected


HOSTILE_DTD = [
    pytest.param(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY lol "lol">'
        + b"".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">'.encode()
                   for i in range(1, 10))
        + b']><rss version="2.0"><channel><title>&lol9;</title>'
          b"<item><title>t &lol9;</title></item></channel></rss>",
        id="billion-laughs"),
    pytest.param(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&xxe;</title>'
        b"<item><title>t &xxe;</title></item></channel></rss>",
        id="xxe-file"),
    pytest.param(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
        b'<rss version="2.0"><channel><title>x</title><item><title>t</title></item>'
        b"</channel></rss>",
        id="xxe-parameter-entity"),
]


@pytest.mark.parametrize("body", HOSTILE_DTD)
def test_entities_are_never_expanded_or_resolved(body: bytes) -> None:
    parsed = parse_feed(body)
    texts = [parsed.title] + [f"{e.title} {e.summary} {e.content}" for e in parsed.entries]
    assert not any("lollol" in text or "root:" in text for text in texts)
    assert all(len(text) < 200 for text in texts)

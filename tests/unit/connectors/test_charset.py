"""Feeds in legacy encodings (big5, euc-jp): the HTTP charset, the XML declaration, detection.

The fixtures are written here with Python's codecs: three Chinese or Japanese headlines in
an RSS feed, encoded in big5 or euc-jp, with the encoding declared (XML declaration or the
Content-Type charset), wrongly declared, or not declared at all.
"""

from __future__ import annotations

import pytest
from wirewatch.connectors.charset import declared_charset, http_charset, to_utf8
from wirewatch.connectors.parse import parse_feed

HEADLINES = {
    "big5": ["台灣央行宣布升息半碼以抑制通膨", "颱風逼近東部沿海 民眾做好防颱準備",
             "半導體出口創新高 經濟部樂觀看待"],
    "euc-jp": ["日本銀行が金利を引き上げると発表しました", "東京株式市場は大幅に反発",
               "台風接近で新幹線の運転見合わせ"],
}
TITLES = {"big5": "新聞快報", "euc-jp": "ニュース速報"}


def feed(encoding: str, *, declare: str | None) -> bytes:
    declaration = f' encoding="{declare}"' if declare else ""
    items = "".join(f"<item><title>{title}</title><link>https://news.example/{i}</link>"
                    f"<guid>{i}</guid></item>" for i, title in enumerate(HEADLINES[encoding]))
    return (f'<?xml version="1.0"{declaration}?><rss version="2.0"><channel>'
            f"<title>{TITLES[encoding]}</title>{items}</channel></rss>").encode(encoding)


ENCODINGS = [pytest.param("big5", id="big5"), pytest.param("euc-jp", id="euc-jp")]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("declared", "content_type", "note"), [
    pytest.param(True, "application/rss+xml", None, id="xml-declaration"),
    pytest.param(False, "application/rss+xml; charset={encoding}", None, id="http-charset"),
    pytest.param(False, 'text/xml; charset="{encoding}"', None, id="http-charset-quoted"),
    pytest.param(True, "text/xml; charset=utf-8", None,
                 id="wrong-http-charset-right-declaration"),
    pytest.param(False, "application/rss+xml", "no charset declared and not UTF-8; read as",
                 id="undeclared-detected"),
    pytest.param(False, "text/xml; charset=utf-8", "the HTTP charset says utf-8, which does "
                 "not decode the feed; read as", id="wrong-http-charset-detected"),
])
def test_legacy_encodings_are_read(encoding: str, declared: bool, content_type: str,
                                   note: str | None) -> None:
    body = feed(encoding, declare=encoding if declared else None)
    parsed = parse_feed(body, content_type.format(encoding=encoding))
    assert [entry.title for entry in parsed.entries] == HEADLINES[encoding]
    assert parsed.title == TITLES[encoding]
    assert "\ufffd" not in parsed.title
    if note is None:
        assert parsed.error is None
    else:
        assert parsed.error is not None and parsed.error.startswith(note)


def test_utf8_bodies_are_passed_through_untouched() -> None:
    body = '<?xml version="1.0" encoding="UTF-8"?><rss><title>Café</title></rss>'.encode()
    assert to_utf8(body, "text/xml") == (body, None)
    assert to_utf8(body, "text/xml; charset=utf-8") == (body, None)
    bom = b"\xef\xbb\xbf" + body
    assert to_utf8(bom, "") == (bom, None)


def test_a_decoded_body_declares_utf8() -> None:
    body, note = to_utf8(feed("big5", declare="big5"), "")
    assert note is None
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert HEADLINES["big5"][0].encode("utf-8") in body


def test_broken_utf8_is_not_mistaken_for_a_legacy_encoding() -> None:
    """A few bad bytes in a UTF-8 feed: the parsers replace them, nothing is re-read."""
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>'
            "Zürich – Genève</title><item><title>Straße</title></item></channel></rss>"
            ).encode().replace(b"Stra", b"Stra\xff")
    parsed = parse_feed(body, "")
    assert parsed.title == "Zürich – Genève"
    assert parsed.error is not None and "invalid UTF-8 replaced" in parsed.error


@pytest.mark.parametrize(("content_type", "charset"), [
    pytest.param("text/xml; charset=big5", "big5", id="plain"),
    pytest.param('text/xml; Charset="EUC-JP"', "EUC-JP", id="quoted-any-case"),
    pytest.param("application/rss+xml", None, id="none"),
])
def test_http_charset(content_type: str, charset: str | None) -> None:
    assert http_charset(content_type) == charset


def test_declared_charset() -> None:
    assert declared_charset(b"<?xml version='1.0' encoding='euc-jp'?><rss/>") == "euc-jp"
    assert declared_charset(b"<rss/>") is None

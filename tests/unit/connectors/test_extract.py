"""Main-text extraction: the article without its page furniture, offline, in the workers."""

from __future__ import annotations

import socket

import pytest
from wirewatch.connectors.extract import as_content, extraction, word_count
from wirewatch.connectors.parse_pool import ParserPool

from tests.unit.connectors.test_pages import SENTENCES, article_html


def test_the_article_is_kept_and_its_furniture_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"extraction touched the network: {args[:2]}")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    found = extraction(article_html().encode(), "https://news.test/a")
    assert found.error is None and found.text is not None
    for sentence in SENTENCES:
        assert sentence in found.text
    for furniture in ("cookies", "Markets", "Another story", "Quantumberry", "Copyright"):
        assert furniture not in found.text


@pytest.mark.parametrize("page", [
    pytest.param(b"", id="empty"),
    pytest.param(b"<html><body></body></html>", id="no-text"),
    pytest.param(b"\xff\xfe\x00<<<>>>" * 100, id="garbage"),
])
def test_a_page_without_text_is_an_error_not_an_exception(page: bytes) -> None:
    found = extraction(page, "https://news.test/a")
    assert found.text is None and found.error


def test_words_are_counted_without_markup() -> None:
    assert word_count("<p>Three <b>short</b> words</p>&nbsp;") == 3
    assert word_count("") == 0


def test_extracted_text_becomes_escaped_paragraphs() -> None:
    assert as_content("a < b\n\n<script>x</script>") == (
        "<p>a &lt; b</p><p>&lt;script&gt;x&lt;/script&gt;</p>")


async def test_extraction_runs_in_a_parser_process() -> None:
    pool = ParserPool(workers=1, timeout=60)
    try:
        found = await pool.extract(article_html().encode(), "https://news.test/a")
    finally:
        pool.close()
    assert found.text is not None and SENTENCES[0] in found.text

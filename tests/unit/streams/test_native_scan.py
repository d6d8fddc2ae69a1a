"""The native scan (native/, Rust) finds exactly what the pure-Python scan finds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wirewatch.streams.tagging import Tagger, load_entities, load_topics
from wirewatch.streams.tagging.files import Entity
from wirewatch.streams.tagging.matcher import NATIVE_SCAN, Pattern, PhraseMatcher
from wirewatch.streams.tagging.text import ASCII_TOKEN_TABLE, Field, words_of

FIXTURES = Path(__file__).parents[2] / "fixtures" / "tagging" / "labelled.jsonl"

pytestmark = pytest.mark.skipif(
    not NATIVE_SCAN and not os.environ.get("WIREWATCH_REQUIRE_NATIVE"),
    reason="the native scan was not built (no Rust toolchain at install)")


def test_ci_builds_the_native_scan() -> None:
    """.ci/run requires it: a CI image without cargo must not pass on the pure scan alone."""
    assert NATIVE_SCAN, "wirewatch.streams._native did not import: was cargo on PATH at install?"


def test_the_native_scanner_refuses_a_bad_token_table() -> None:
    from wirewatch.streams import _native

    with pytest.raises(ValueError, match="256 bytes"):
        _native.Scanner(ASCII_TOKEN_TABLE[:10], [], [])


# Words, their case and diacritic variants, words longer than the 15 bytes a packed key
# holds, separators str.split() knows inside and outside ASCII (\x1c-\x1f, NEL, ogham and
# line/paragraph separators reach the scan; fold() turns no-break and ideographic spaces
# into " " first), punctuation both sides of the ASCII line, and a cashtag.
WORDS = ["net", "Net", "NET", "income", "acquired", "acquisition", "Société", "générale",
         "$msft", "MSFT", "İstanbul", "straße", "naïve", "x", "ab", "abc",
         "internationalisation", "Überraschungsmoment", "abcdefghijklmnop"]
SEPARATORS = [" ", "  ", "\t", "\n", "\r\n", "\x1c", "\x1f", "\x0b", "\x85", "\xa0", "\u2003",
              "\u3000", "\u1680", "\u2028", "\u2029", "\u202f", ", ", "; ", "(", ")", "\u2014",
              "\u201c", "\u2019s ", "-", ": ", "!"]
texts = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)),
                 max_size=40).map(lambda pairs: "".join(w + s for w, s in pairs))
VOCABULARY = ["net", "income", "acqui", "societe", "generale", "$msft", "msft", "istanbul",
              "strasse", "straße", "naive", "x", "ab", "abc", "internationalisation",
              "internationalis", "uberraschungsmoment", "abcdefghijklmnop", "abcdefghijklmno"]
patterns = st.lists(st.builds(Pattern, st.lists(st.sampled_from(VOCABULARY), min_size=1,
                                                max_size=3).map(tuple), st.booleans()),
                    min_size=1, max_size=10, unique_by=lambda p: p.key)


@settings(max_examples=300, deadline=None)
@given(patterns, texts, st.data())
def test_native_and_pure_scans_agree(found: list[Pattern], text: str, data: st.DataObject,
                                     ) -> None:
    positional = data.draw(st.sets(st.integers(0, len(found) - 1)))
    native = PhraseMatcher(found, positional, native=True)
    pure = PhraseMatcher(found, positional, native=False)
    field = Field.of("body", text)
    ours, reference = native.scan_field(field), pure.scan_field(field)
    assert ours.present == reference.present
    assert ours.places() == reference.places()
    for limit in (0, 1, 3, 60):
        assert ours.present_before(limit) == reference.present_before(limit)
    # A token list scans as its own text does.
    assert native.scan(words_of(text)).present == reference.present


def test_the_tagger_tags_the_same_with_either_scan() -> None:
    """The labelled fixtures, with the shipped rules and a watchlist (ambiguous aliases,
    tickers, salience): every topic, entity and piece of evidence is the same."""
    rows = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines()]
    entities = [*load_entities(), Entity("acme", "Acme Corp", "organization", ("Acme",),
                                         tickers=("NASDAQ:ACME",))]
    native = Tagger(load_topics(), entities, native=True)
    pure = Tagger(load_topics(), entities, native=False)
    tagged = 0
    for row in rows:
        title, body = str(row["title"]), str(row.get("body") or row.get("text") or "")
        ours = native.tag(title, body)
        assert ours == pure.tag(title, body), row["id"]
        tagged += bool(ours.topics or ours.entities)
    assert tagged > len(rows) // 2  # the comparison covered real tags, not empty results

"""The native sketch numbers (native/src/sketch.rs) equal the numpy ones, to the last bit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wirewatch.streams.dedupe import sketch as sketches

pytestmark = pytest.mark.skipif(
    not sketches.NATIVE_SKETCH and not os.environ.get("WIREWATCH_REQUIRE_NATIVE"),
    reason="the native part was not built (no Rust toolchain at install)")

MARK = sketches._SENTENCE_MARK


def test_ci_builds_the_native_sketch() -> None:
    assert sketches.NATIVE_SKETCH, "wirewatch.streams._native did not import: was cargo on PATH?"


# Words with every byte class the word table knows: case, digits, punctuation inside and
# around words, control whitespace, NUL-free non-ASCII (é, ß, ﬁ, CJK), and sentence marks.
PIECES = ["The", "company", "said", "Q3", "profit", "rose", "8%", "to", "$1.2bn", "e-mail",
          "Société", "Générale", "straße", "ﬁnance", "東京", "İstanbul", "a", "b", "c"]
SEPARATORS = [" ", "  ", ". ", ", ", "\n", "\t", "\x0b", "\x1c", "\u00a0", "\u3000", "-", "'",
              f" {MARK} "]
texts = st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(SEPARATORS)),
                 max_size=60).map(lambda pairs: "".join(w + s for w, s in pairs))


@settings(max_examples=400, deadline=None)
@given(texts, st.integers(0, 12))
def test_native_and_numpy_numbers_agree(text: str, sentences: int) -> None:
    assert sketches.native_numbers(text, sentences) == sketches.numbers(text, sentences)


@pytest.mark.parametrize("text", ["", " ", MARK, f"{MARK} {MARK}", "one", "one two three",
                                  "one two three four", "x " * 2000, "\x00" * 5])
def test_edge_cases_agree(text: str) -> None:
    for sentences in (0, 1, 3):
        assert sketches.native_numbers(text, sentences) == sketches.numbers(text, sentences)


def test_corpus_articles_sketch_alike() -> None:
    """Generated wire stories (bench/corpus.py), as sketch() marks them."""
    sys.path.insert(0, str(Path(__file__).parents[3] / "bench"))
    from corpus import raw_items  # noqa: PLC0415
    from wirewatch.streams.stages import clean_raw  # noqa: PLC0415

    for item in raw_items(300, seed=5):
        _, text = clean_raw(item)
        sentences = [piece for line in text[:sketches.ANCHOR_CHARS].split("\n")
                     for piece in sketches._SENTENCE_END.split(line)]
        marked = f" {MARK} ".join(sentences) + f" {MARK} " + text[sketches.ANCHOR_CHARS:]
        assert sketches.native_numbers(marked, len(sentences)) == sketches.numbers(
            marked, len(sentences))


# Bottom-k samples as they come (sorted, distinct) and as they might (unsorted, repeated:
# two hashes can share their top 32 bits), from a narrow range so that they overlap, and
# from the full u32 range for the ends of it.
values = st.one_of(st.integers(0, 300), st.sampled_from([0, 2**32 - 1]))
samples = st.lists(values, max_size=3 * sketches.SKETCH_SIZE)
# At least SKETCH_SIZE values each, so that their union is cut at the SKETCH_SIZE smallest.
long_samples = st.lists(values, min_size=sketches.SKETCH_SIZE,
                        max_size=3 * sketches.SKETCH_SIZE)


@settings(max_examples=500, deadline=None)
@given(st.one_of(samples, long_samples), st.one_of(samples, long_samples))
def test_native_and_python_overlaps_agree(a: list[int], b: list[int]) -> None:
    assert sketches.native_bottom_overlap(a, b) == sketches.bottom_overlap(a, b)
    assert sketches.native_bottom_overlap(tuple(sorted(a)), tuple(b)) == (
        sketches.bottom_overlap(sorted(a), b))


def test_corpus_similarities_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pair among generated wire stories and their syndicated copies: the same
    (Jaccard, containment), to the last bit, whichever overlap similarity uses."""
    sys.path.insert(0, str(Path(__file__).parents[3] / "bench"))
    from corpus import raw_items  # noqa: PLC0415
    from wirewatch.streams.stages import clean_raw  # noqa: PLC0415

    drawn = [sketches.sketch(clean_raw(item)[1]) for item in raw_items(120, seed=11)]
    pairs = [(a, b) for a in drawn for b in drawn]
    native = [sketches.similarity(a, b) for a, b in pairs]
    monkeypatch.setattr(sketches, "_overlap", sketches.bottom_overlap)
    assert [sketches.similarity(a, b) for a, b in pairs] == native
    assert sum(0.0 < jaccard < 1.0 for jaccard, _ in native) > 100  # partial overlaps too

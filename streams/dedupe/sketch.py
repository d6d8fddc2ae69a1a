"""Text sketches for near-duplicate detection: tokens, shingles, bottom-k, lead sentences.

Everything here is pure and deterministic across processes (own hashes, never Python's
hash() of a string).
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SHINGLE_WORDS = 4
SKETCH_SIZE = 128
ANCHOR_SENTENCES = 6
MIN_ANCHOR_WORDS = 6

# Applied line by line; the stop itself is dropped (punctuation is not a word anyway).
_SENTENCE_END = re.compile(r"[.!?][ \t]+(?=[A-Z0-9\"'(])")
# Ticker tags a republisher adds, e.g. "(NASDAQ:MSFT)" or "(NYSE: IBM)": not the story's words.
_TICKER_TAG = re.compile(
    r"\(\s*(?:NASDAQ|NYSE|AMEX|OTC|LSE|TSX|NYSEARCA|BATS)\s*:\s*[A-Z.]{1,6}\s*\)")
_ELLIPSIS_MARK = re.compile(r"\[\s*(?:\.\.\.|…)\s*\]")


@dataclass(frozen=True)
class Sketch:
    """What the index keeps of an article: its size, bottom-k shingles and anchors."""

    shingles: int  # number of distinct shingles in the text
    bottom: tuple[int, ...]  # the SKETCH_SIZE smallest shingle hashes, ascending
    anchors: tuple[int, ...]  # hashes of its first informative sentences


def clean_for_sketch(text: str) -> str:
    return _ELLIPSIS_MARK.sub(" ", _TICKER_TAG.sub(" ", text))


# One bytes.translate that lower-cases ASCII and turns ASCII punctuation and whitespace
# (what str.split() splits on) into spaces: a table lookup per byte.
_SEPARATORS = set(string.punctuation) | set("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")
_TO_WORDS = bytes(32 if chr(code) in _SEPARATORS else code + 32 if 65 <= code <= 90 else code
                  for code in range(256))
_BASE = np.uint64(0x100000001B3)  # odd, so invertible modulo 2**64
_BASE_INVERSE = np.uint64(pow(0x100000001B3, -1, 1 << 64))


def _power_table(base: np.uint64, count: int) -> np.ndarray:
    """base**0 .. base**(count - 1) modulo 2**64 (uint64 arithmetic wraps)."""
    powers = np.full(count, base, dtype=np.uint64)
    powers[0] = 1
    return np.cumprod(powers, out=powers)


# Worked out once (1 MB): a cumulative product per text cost as much as the rest of it.
_TABLE_BYTES = 1 << 16
_POWERS = _power_table(_BASE, _TABLE_BYTES)
_INVERSE_POWERS = _power_table(_BASE_INVERSE, _TABLE_BYTES)


def _powers(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` powers of the base and of its inverse."""
    if count <= _TABLE_BYTES:
        return _POWERS[:count], _INVERSE_POWERS[:count]
    return _power_table(_BASE, count), _power_table(_BASE_INVERSE, count)


def _word_form(text: str) -> str:
    """The text as the word table reads it: non-ASCII text lower-cased, its words joined by
    single spaces (Unicode spaces separate too, as in str.split); ASCII as it is."""
    if text.isascii():
        return text
    return " ".join(text.lower().split())


def word_ids(text: str) -> np.ndarray:
    """A 64-bit id for each word of the text, in order: lower-case words and numbers, ASCII
    punctuation separating (typography is folded before), the same in every process.

    Computed for all words at once over the text's bytes: a polynomial hash of each word
    (prefix sums of byte x base**position, shifted to the word's start by the inverse
    power), then mixed. No Python string per word: four times faster than splitting and
    looking up a crc32 per word, and no cache of words to grow.
    """
    codes = np.frombuffer(b" " + _word_form(text).encode().translate(_TO_WORDS) + b" ",
                          dtype=np.uint8)
    space = codes == 32
    edges = np.flatnonzero(space[1:] != space[:-1]) + 1  # where words start and end
    starts, ends = edges[0::2], edges[1::2]
    if not len(starts):
        return np.empty(0, dtype=np.uint64)
    powers, inverse_powers = _powers(len(codes))
    # Byte values + 1, so that a NUL byte (the sentence mark) still changes the hash.
    prefix = np.cumsum((codes.astype(np.uint64) + np.uint64(1)) * powers)
    hashes = (prefix[ends - 1] - prefix[starts - 1]) * inverse_powers[starts]
    return _mixed(hashes)


_SHINGLE_WEIGHTS = tuple(np.uint64(w) for w in (
    0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93))
_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_SHIFTS = tuple(np.uint64(s) for s in (30, 27, 31, 32))


def _mixed(hashes: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, in place: every input bit reaches every output bit."""
    shift_a, shift_b, shift_c, _ = _SHIFTS
    hashes ^= hashes >> shift_a
    hashes *= _MIX_1
    hashes ^= hashes >> shift_b
    hashes *= _MIX_2
    hashes ^= hashes >> shift_c
    return hashes


def shingle_hashes(words: np.ndarray) -> np.ndarray:
    """Sorted distinct 64-bit hashes of every run of SHINGLE_WORDS words, given word ids.

    A shingle's hash is a weighted sum of its word ids put through the splitmix64 finaliser,
    computed for all shingles at once with numpy: the same in every process (no
    PYTHONHASHSEED) and several times faster than hashing tuples one by one.
    """
    count = len(words) - SHINGLE_WORDS + 1
    if count < 1:  # shorter than one shingle: the whole text is its only shingle
        words = np.concatenate([words, np.zeros(SHINGLE_WORDS - len(words), np.uint64)])
        count = 1
    hashes = words[:count] * _SHINGLE_WEIGHTS[0]
    for offset in range(1, SHINGLE_WORDS):
        hashes += words[offset:offset + count] * _SHINGLE_WEIGHTS[offset]
    hashes = _mixed(hashes)
    hashes.sort()
    if count > 1:
        keep = np.empty(count, dtype=bool)
        keep[0] = True
        np.not_equal(hashes[1:], hashes[:-1], out=keep[1:])
        hashes = hashes[keep]
    return hashes


ANCHOR_CHARS = 3000  # the lead: anchors come from its first sentences


_SENTENCE_MARK = "\x00"  # a token of its own between lead sentences; never in clean text
_SENTENCE_MARK_ID = int(word_ids(_SENTENCE_MARK)[0])


SKETCH_MEMO_SIZE = 4096  # texts whose sketch is kept: syndicated copies often normalise alike


try:  # the same numbers, and the comparison, natively (native/src/sketch.rs), where built
    from wirewatch.streams._native import Sketcher as _Sketcher
    from wirewatch.streams._native import bottom_overlap as _native_overlap

    _NATIVE: _Sketcher | None = _Sketcher(
        _TO_WORDS, int(_BASE), [int(w) for w in _SHINGLE_WEIGHTS], _SENTENCE_MARK_ID,
        SKETCH_SIZE, MIN_ANCHOR_WORDS, ANCHOR_SENTENCES)
except ImportError:
    _NATIVE = None
    _native_overlap = None  # type: ignore[assignment]


def numbers(text: str, sentences: int) -> tuple[int, list[int], list[list[int]]]:
    """(distinct shingles, the top 32 bits of the SKETCH_SIZE smallest shingle hashes, the
    word ids of the first ANCHOR_SENTENCES of the text's `sentences` mark-separated
    sentences with MIN_ANCHOR_WORDS words or more), with numpy; (0, [], []) without words."""
    ids = word_ids(text)
    marks = np.flatnonzero(ids == _SENTENCE_MARK_ID).tolist()
    words = ids[ids != _SENTENCE_MARK_ID]
    if not len(words):
        return 0, [], []
    anchors: list[list[int]] = []
    start = 0
    for sentence in range(sentences):
        end = marks[sentence] if sentence < len(marks) else len(ids)
        if end - start >= MIN_ANCHOR_WORDS:
            anchors.append(ids[start:end].tolist())
            if len(anchors) == ANCHOR_SENTENCES:
                break
        start = end + 1
    hashes = shingle_hashes(words)
    # The top 32 bits keep the order, so the bottom-k of them is still a bottom-k sample.
    return len(hashes), (hashes[:SKETCH_SIZE] >> _SHIFTS[3]).tolist(), anchors


def native_numbers(text: str, sentences: int) -> tuple[int, list[int], list[list[int]]]:
    """The same as `numbers`, natively (ValueError where the native part was not built)."""
    if _NATIVE is None:
        raise ValueError("the native sketch was not built (see native/README.md)")
    return _NATIVE.numbers(_word_form(text), sentences)


NATIVE_SKETCH = _NATIVE is not None


@functools.lru_cache(maxsize=SKETCH_MEMO_SIZE)
def sketch(text: str) -> Sketch:
    """Sketch a (normalised) text: its size, bottom-k shingle hashes and lead anchors.

    The whole text is tokenised in one call, with a marker token between the lead's
    sentences: the anchors are hashes of the runs between markers, the shingles come from
    everything but the markers.
    """
    cleaned = clean_for_sketch(text).replace(_SENTENCE_MARK, " ")
    lead = cleaned[:ANCHOR_CHARS]
    sentences = [piece for line in lead.split("\n") for piece in _SENTENCE_END.split(line)]
    rest = ""
    if len(cleaned) > ANCHOR_CHARS:
        # The last piece was cut mid-sentence: no anchor from it, its words go with the rest.
        rest = sentences.pop() + cleaned[ANCHOR_CHARS:]
    marked = f" {_SENTENCE_MARK} ".join(sentences)
    text = f"{marked} {_SENTENCE_MARK} {rest}" if rest else marked
    shingles, bottom, anchor_words = (native_numbers if NATIVE_SKETCH else numbers)(
        text, len(sentences))
    if not shingles:
        return Sketch(shingles=0, bottom=(), anchors=())
    anchors = tuple(hash(tuple(words)) >> 32 for words in anchor_words)
    return Sketch(shingles=shingles, bottom=tuple(bottom), anchors=anchors)


def bottom_overlap(a: Sequence[int], b: Sequence[int]) -> tuple[int, int]:
    """(values the two bottom-k samples share among the SKETCH_SIZE smallest of their
    union, values counted there: the union's size or SKETCH_SIZE, whichever is smaller).
    The reference for the native version (native/src/sketch.rs), which similarity uses."""
    in_a = set(a)
    in_both = in_a.intersection(b)
    union = in_a.union(b)
    if len(union) <= SKETCH_SIZE:
        return len(in_both), len(union)
    # The union's bottom-k ends at its k-th smallest value; the shared values beyond that
    # are dropped by one set intersection (a generator over them cost more).
    beyond = sorted(union)[SKETCH_SIZE:]
    return len(in_both) - len(in_both.intersection(beyond)), SKETCH_SIZE


def native_bottom_overlap(a: Sequence[int], b: Sequence[int]) -> tuple[int, int]:
    """The same as `bottom_overlap`, natively (ValueError where it was not built)."""
    if not NATIVE_SKETCH:
        raise ValueError("the native sketch was not built (see native/README.md)")
    return _native_overlap(a, b, SKETCH_SIZE)


# Sets of two 128-value samples, a sort of their union: ~30 µs a pair; merged natively ~3.
_overlap = native_bottom_overlap if NATIVE_SKETCH else bottom_overlap


def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """(Jaccard, containment of the smaller text in the larger), from the two sketches.

    Jaccard is estimated from the bottom-k of the union; the intersection size follows from
    it and the two shingle counts, and containment is that over the smaller count.
    """
    if not a.bottom or not b.bottom:
        return 0.0, 0.0
    if a.bottom == b.bottom:  # syndicated copies often sketch alike: nothing to merge
        jaccard = 1.0
    else:
        shared, counted = _overlap(a.bottom, b.bottom)
        if not shared:
            return 0.0, 0.0
        jaccard = shared / counted
    intersection = jaccard * (a.shingles + b.shingles) / (1.0 + jaccard)
    return jaccard, min(1.0, intersection / max(1, min(a.shingles, b.shingles)))

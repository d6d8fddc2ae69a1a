"""Text sketches for near-duplicate detection: tokens, shingles, bottom-k, lead sentences.

Everything here is pure and deterministic across processes (crc32, never Python's hash()).
"""

from __future__ import annotations

import functools
import re
import string
import zlib
from array import array
from dataclasses import dataclass

import numpy as np

SHINGLE_WORDS = 4
SKETCH_SIZE = 128
ANCHOR_SENTENCES = 6
MIN_ANCHOR_WORDS = 6

_PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in string.punctuation})
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


# ASCII text in one bytes.translate that lower-cases too: a table lookup per byte.
_ASCII_TO_TOKENS = bytes(32 if chr(code) in string.punctuation else
                         code + 32 if 65 <= code <= 90 else code for code in range(256))


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers; ASCII punctuation separates (typography is folded)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TO_TOKENS).decode("ascii").split()
    return text.lower().translate(_PUNCTUATION_TO_SPACE).split()


_WORD_IDS: dict[str, int] = {}  # crc32 of each word seen; words repeat, so look them up
# News vocabulary never stops growing (names, numbers): at 2,000,000 words this cache alone
# would take ~250 MB of a worker's 500 MB; 200,000 (~25 MB) still holds a day's common words.
_MAX_WORD_IDS = 200_000


def word_ids(words: list[str]) -> list[int]:
    cache = _WORD_IDS
    ids: list[int | None] = list(map(cache.get, words))
    if None in ids:
        if len(cache) > _MAX_WORD_IDS:
            cache.clear()
        for position, word in enumerate(words):
            if ids[position] is None:
                ids[position] = cache[word] = zlib.crc32(word.encode())
    return ids  # type: ignore[return-value]  # every None was filled in


_SHINGLE_WEIGHTS = tuple(np.uint64(w) for w in (
    0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93))
_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_SHIFTS = tuple(np.uint64(s) for s in (30, 27, 31, 32))


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
    shift_a, shift_b, shift_c, _ = _SHIFTS
    hashes ^= hashes >> shift_a
    hashes *= _MIX_1
    hashes ^= hashes >> shift_b
    hashes *= _MIX_2
    hashes ^= hashes >> shift_c
    hashes.sort()
    if count > 1:
        keep = np.empty(count, dtype=bool)
        keep[0] = True
        np.not_equal(hashes[1:], hashes[:-1], out=keep[1:])
        hashes = hashes[keep]
    return hashes


ANCHOR_CHARS = 3000  # the lead: anchors come from its first sentences


_SENTENCE_MARK = "\x00"  # a token of its own between lead sentences; never in clean text
_SENTENCE_MARK_ID = zlib.crc32(_SENTENCE_MARK.encode())


@functools.lru_cache(maxsize=4096)  # syndicated copies often normalise to the same text
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
    ids = word_ids(tokens(f"{marked} {_SENTENCE_MARK} {rest}" if rest else marked))
    anchors: list[int] = []
    start, lead_sentences = 0, len(sentences)
    for _ in range(lead_sentences):
        try:
            end = ids.index(_SENTENCE_MARK_ID, start)
        except ValueError:
            end = len(ids)
        if end - start >= MIN_ANCHOR_WORDS:
            anchors.append(hash(tuple(ids[start:end])) >> 32)
            if len(anchors) == ANCHOR_SENTENCES:
                break
        start = end + 1
    words = np.frombuffer(array("Q", ids), dtype=np.uint64)  # faster than np.array(list)
    words = words[words != _SENTENCE_MARK_ID]
    if not len(words):
        return Sketch(shingles=0, bottom=(), anchors=())
    hashes = shingle_hashes(words)
    # The top 32 bits keep the order, so the bottom-k of them is still a bottom-k sample.
    bottom = tuple((hashes[:SKETCH_SIZE] >> _SHIFTS[3]).tolist())
    return Sketch(shingles=len(hashes), bottom=bottom, anchors=tuple(anchors))


def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """(Jaccard, containment of the smaller text in the larger), from the two sketches.

    Jaccard is estimated from the bottom-k of the union; the intersection size follows from
    it and the two shingle counts, and containment is that over the smaller count.
    """
    if not a.bottom or not b.bottom:
        return 0.0, 0.0
    if a.bottom == b.bottom:  # syndicated copies often sketch alike: no sets to build
        jaccard = 1.0
        intersection = (a.shingles + b.shingles) / 2.0
        return jaccard, min(1.0, intersection / max(1, min(a.shingles, b.shingles)))
    in_a = set(a.bottom)
    in_both = in_a.intersection(b.bottom)
    if not in_both:
        return 0.0, 0.0
    union = in_a.union(b.bottom)
    if len(union) > SKETCH_SIZE:
        # The union's bottom-k ends at its k-th smallest value; the shared values beyond
        # that are dropped by one set intersection (a generator over them cost more).
        beyond = sorted(union)[SKETCH_SIZE:]
        jaccard = (len(in_both) - len(in_both.intersection(beyond))) / SKETCH_SIZE
    else:
        jaccard = len(in_both) / len(union)
    intersection = jaccard * (a.shingles + b.shingles) / (1.0 + jaccard)
    return jaccard, min(1.0, intersection / max(1, min(a.shingles, b.shingles)))

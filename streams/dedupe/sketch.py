"""Text sketches for near-duplicate detection: tokens, shingles, bottom-k, lead sentences.

Everything here is pure and deterministic across processes (crc32, never Python's hash()).
"""

from __future__ import annotations

import re
import string
import zlib
from dataclasses import dataclass

SHINGLE_WORDS = 4
SKETCH_SIZE = 128
ANCHOR_SENTENCES = 6
MIN_ANCHOR_WORDS = 6

_PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in string.punctuation})
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")
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


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers; ASCII punctuation separates (typography is folded)."""
    return text.lower().translate(_PUNCTUATION_TO_SPACE).split()


_WORD_IDS: dict[str, int] = {}  # crc32 of each word seen; words repeat, so look them up
_MAX_WORD_IDS = 2_000_000


def word_ids(words: list[str]) -> list[int]:
    cache = _WORD_IDS
    ids = [cache.get(word, -1) for word in words]
    if -1 in ids:
        if len(cache) > _MAX_WORD_IDS:
            cache.clear()
        for position, word in enumerate(words):
            if ids[position] == -1:
                ids[position] = cache[word] = zlib.crc32(word.encode())
    return ids


def shingle_hashes(ids: list[int]) -> set[int]:
    """Hashes of every run of SHINGLE_WORDS words, given the words' ids.

    A shingle's hash is the hash of the tuple of its word ids: tuples of ints hash the same
    in every process (no PYTHONHASHSEED), so sketches agree across workers, and it is several
    times faster than hashing joined strings.
    """
    if len(ids) < SHINGLE_WORDS:
        return {hash(tuple(ids)) & 0xFFFFFFFF} if ids else set()
    return {hash(shingle) & 0xFFFFFFFF
            for shingle in zip(*(ids[i:] for i in range(SHINGLE_WORDS)), strict=False)}


def sketch(text: str) -> Sketch:
    """Sketch a (normalised) text: one tokenising pass serves anchors and shingles."""
    ids: list[int] = []
    anchors: list[int] = []
    for sentence in _SENTENCE_END.split(clean_for_sketch(text)):
        sentence_ids = word_ids(tokens(sentence))
        if len(anchors) < ANCHOR_SENTENCES and len(sentence_ids) >= MIN_ANCHOR_WORDS:
            # Anchors: the first sentences long enough to be specific to one story.
            anchors.append(hash(tuple(sentence_ids)) & 0xFFFFFFFF)
        ids += sentence_ids
    hashes = shingle_hashes(ids)
    return Sketch(shingles=len(hashes), bottom=tuple(sorted(hashes)[:SKETCH_SIZE]),
                  anchors=tuple(anchors))


def jaccard_estimate(a: Sketch, b: Sketch) -> float:
    """Jaccard of the full shingle sets, estimated from the two bottom-k sketches."""
    if not a.bottom or not b.bottom:
        return 0.0
    k = min(SKETCH_SIZE, a.shingles + b.shingles)
    union_bottom = sorted(set(a.bottom) | set(b.bottom))[:k]
    in_a, in_b = set(a.bottom), set(b.bottom)
    both = sum(1 for h in union_bottom if h in in_a and h in in_b)
    return both / len(union_bottom)


def containment_estimate(a: Sketch, b: Sketch) -> float:
    """How much of the smaller text lies inside the larger one (0..1)."""
    jaccard = jaccard_estimate(a, b)
    if jaccard == 0.0:
        return 0.0
    intersection = jaccard * (a.shingles + b.shingles) / (1.0 + jaccard)
    return min(1.0, intersection / max(1, min(a.shingles, b.shingles)))

"""Text sketches for near-duplicate detection: tokens, shingles, bottom-k, lead sentences.

Everything here is pure and deterministic across processes (crc32, never Python's hash()).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

SHINGLE_WORDS = 4
SKETCH_SIZE = 128
ANCHOR_SENTENCES = 6
MIN_ANCHOR_WORDS = 6

_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
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
    return _TOKEN.findall(text.lower())


def shingle_hashes(words: list[str]) -> set[int]:
    if len(words) < SHINGLE_WORDS:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {zlib.crc32(" ".join(words[i:i + SHINGLE_WORDS]).encode())
            for i in range(len(words) - SHINGLE_WORDS + 1)}


def anchor_hashes(text: str) -> tuple[int, ...]:
    """Hashes of the first few sentences long enough to be specific to one story."""
    anchors = []
    for sentence in _SENTENCE_END.split(text):
        words = tokens(sentence)
        if len(words) >= MIN_ANCHOR_WORDS:
            anchors.append(zlib.crc32(" ".join(words).encode()))
            if len(anchors) == ANCHOR_SENTENCES:
                break
    return tuple(anchors)


def sketch(text: str) -> Sketch:
    cleaned = clean_for_sketch(text)
    hashes = shingle_hashes(tokens(cleaned))
    return Sketch(shingles=len(hashes), bottom=tuple(sorted(hashes)[:SKETCH_SIZE]),
                  anchors=anchor_hashes(cleaned))


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

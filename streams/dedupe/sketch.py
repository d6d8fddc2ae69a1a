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
    ids: list[int | None] = list(map(cache.get, words))
    if None in ids:
        if len(cache) > _MAX_WORD_IDS:
            cache.clear()
        for position, word in enumerate(words):
            if ids[position] is None:
                ids[position] = cache[word] = zlib.crc32(word.encode())
    return ids  # type: ignore[return-value]  # every None was filled in


def shingle_hashes(ids: list[int]) -> set[int]:
    """Hashes of every run of SHINGLE_WORDS words, given the words' ids.

    A shingle's hash is the hash of the tuple of its word ids: tuples of ints hash the same
    in every process (no PYTHONHASHSEED), so sketches agree across workers, and it is several
    times faster than hashing joined strings. Values are 64-bit; sketches keep the top 32.
    """
    if len(ids) < SHINGLE_WORDS:
        return {hash(tuple(ids))} if ids else set()
    return set(map(hash, zip(*(ids[i:] for i in range(SHINGLE_WORDS)), strict=False)))


ANCHOR_CHARS = 3000  # the lead: anchors come from its first sentences


def sketch(text: str) -> Sketch:
    """Sketch a (normalised) text: its size, bottom-k shingle hashes and lead anchors.

    The lead is tokenised sentence by sentence (for the anchors) and the rest in one go;
    together they are the text's words, so every word is tokenised once.
    """
    cleaned = clean_for_sketch(text)
    sentences = _SENTENCE_END.split(cleaned[:ANCHOR_CHARS])
    rest = ""
    if len(cleaned) > ANCHOR_CHARS:
        # The last piece was cut mid-sentence: no anchor from it, its words go with the rest.
        rest = sentences.pop() + cleaned[ANCHOR_CHARS:]
    ids: list[int] = []
    anchors: list[int] = []
    for sentence in sentences:
        sentence_ids = word_ids(tokens(sentence))
        if len(anchors) < ANCHOR_SENTENCES and len(sentence_ids) >= MIN_ANCHOR_WORDS:
            anchors.append(hash(tuple(sentence_ids)) >> 32)
        ids += sentence_ids
    if rest:
        ids += word_ids(tokens(rest))
    hashes = shingle_hashes(ids)
    # Floor division keeps the order, so the bottom-k of the top 32 bits is still bottom-k.
    bottom = tuple(value >> 32 for value in sorted(hashes)[:SKETCH_SIZE])
    return Sketch(shingles=len(hashes), bottom=bottom, anchors=tuple(anchors))


def similarity(a: Sketch, b: Sketch) -> tuple[float, float]:
    """(Jaccard, containment of the smaller text in the larger), from the two sketches.

    Jaccard is estimated from the bottom-k of the union; the intersection size follows from
    it and the two shingle counts, and containment is that over the smaller count.
    """
    if not a.bottom or not b.bottom:
        return 0.0, 0.0
    in_a, in_b = set(a.bottom), set(b.bottom)
    union_bottom = sorted(in_a | in_b)[:SKETCH_SIZE]
    both = sum(1 for value in union_bottom if value in in_a and value in in_b)
    jaccard = both / len(union_bottom)
    if jaccard == 0.0:
        return 0.0, 0.0
    intersection = jaccard * (a.shingles + b.shingles) / (1.0 + jaccard)
    return jaccard, min(1.0, intersection / max(1, min(a.shingles, b.shingles)))

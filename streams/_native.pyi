"""Types of wirewatch's native parts (native/src), built from Rust at install by cargo."""

from collections.abc import Sequence

Located = tuple[int, int, int]  # pattern id, start token, end token (exclusive)

class Scanner:
    """The tagger's scan (wirewatch.streams.tagging.matcher)."""

    def __init__(self, table: bytes, words: list[tuple[str, int]],
                 phrases: list[tuple[list[str], bool, int]]) -> None: ...
    def scan(self, text: str) -> tuple[list[int], list[Located], int]: ...

class Sketcher:
    """The dedupe sketch's numbers (wirewatch.streams.dedupe.sketch)."""

    def __init__(self, table: bytes, base: int, weights: list[int], mark: int, size: int,
                 min_words: int, anchors: int) -> None: ...
    def numbers(self, text: str, sentences: int) -> tuple[int, list[int], list[list[int]]]: ...

def bottom_overlap(a: Sequence[int], b: Sequence[int], size: int) -> tuple[int, int]:
    """How two bottom-k sketches overlap (wirewatch.streams.dedupe.sketch.bottom_overlap)."""

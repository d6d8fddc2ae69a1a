"""Find many phrases in token lists at once: one Aho-Corasick pass, whatever their number.

The article's tokens are joined with single spaces and scanned once by a C automaton
(pyahocorasick) holding every alias and rule term as " word word " (a prefix term as
" word", open at the end), so matches fall on word boundaries and cost follows the text,
not the number of patterns. Token positions are worked out afterwards, and only for the
few patterns that need them (proximity, lead, salience).
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, repeat

import ahocorasick


@dataclass(frozen=True)
class Pattern:
    """Words to match in sequence; the last may be a prefix."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def key(self) -> str:
        return " " + " ".join(self.words) + ("" if self.prefix else " ")


Occurrence = tuple[int, int]  # start token, end token (exclusive)


@dataclass
class Scan:
    """What one pass over a token list found: each pattern's match ends (in characters)."""

    tokens: Sequence[str]
    present: set[int]  # every pattern found
    ends: dict[int, list[int]]  # where each pattern found by the automaton ends
    _offsets: list[int] | None = field(default=None, repr=False)

    def present_before(self, token_limit: int) -> set[int]:
        """Positional patterns with a match starting within the first `token_limit` tokens."""
        limit = len(" ".join(self.tokens[:token_limit])) + 1  # where token `limit` starts
        return {pattern_id for pattern_id, ends in self.ends.items() if ends[0] < limit}

    def occurrences(self, pattern_id: int, pattern: Pattern) -> list[Occurrence]:
        ends = self.ends.get(pattern_id)
        if not ends:
            if pattern_id in self.present:
                raise ValueError(f"{pattern} was not compiled as positional")
            return []
        if self._offsets is None:  # where each token starts in the joined text
            self._offsets = list(accumulate(
                map(operator.add, map(len, self.tokens), repeat(1)), initial=1))
        length, words = len(pattern.key), len(pattern.words)
        starts = (bisect_left(self._offsets, end - length + 2) for end in ends)
        return [(start, start + words) for start in starts]


def _automaton(patterns: Sequence[Pattern], ids: Iterable[int]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for pattern_id in ids:
        if patterns[pattern_id].key in automaton:
            raise ValueError(f"pattern {patterns[pattern_id]} given twice")
        automaton.add_word(patterns[pattern_id].key, pattern_id)
    if len(automaton):
        automaton.make_automaton()
    return automaton


class PhraseMatcher:
    """Compiled from a list of distinct patterns; ids are positions in that list.

    Most patterns only need to be known present (a learned rule's term). Single words are
    found by intersecting the article's distinct words with a dict (frequent words cost one
    lookup, not one per occurrence); phrases and prefixes by the automaton, their matches
    gathered into a set without a Python loop. The `positional` patterns (proximity, lead,
    entities) go through a second, smaller automaton that records where they end.
    """

    def __init__(self, patterns: Sequence[Pattern], positional: Iterable[int] = ()) -> None:
        self.patterns = list(patterns)
        self.positional = frozenset(positional)
        single = [len(p.words) == 1 and not p.prefix for p in self.patterns]
        self._words = {p.words[0]: i for i, p in enumerate(self.patterns) if single[i]}
        # One automaton pass finds the phrases and prefixes (presence) and every positional
        # pattern (with where it ends); single words that are not positional never enter it.
        self._scanned = _automaton(self.patterns, [
            i for i in range(len(self.patterns)) if not single[i] or i in self.positional])

    def scan(self, tokens: Sequence[str]) -> Scan:
        if not self.patterns or not tokens:
            return Scan(tokens, set(), {})
        words = self._words
        present = {words[word] for word in words.keys() & tokens}
        ends: dict[int, list[int]] = {}
        if len(self._scanned):
            for end, pattern_id in self._scanned.iter(f" {' '.join(tokens)} "):
                found = ends.get(pattern_id)
                if found is None:
                    ends[pattern_id] = [end]
                else:
                    found.append(end)
            present.update(ends)
        return Scan(tokens, present, ends)

    def present(self, tokens: Sequence[str]) -> set[int]:
        """The ids of the patterns that occur at least once in the tokens."""
        return self.scan(tokens).present

    def occurrences(self, tokens: Sequence[str], pattern_id: int) -> list[Occurrence]:
        """Where a pattern occurs, in order (it must be one of the positional patterns)."""
        return self.scan(tokens).occurrences(pattern_id, self.patterns[pattern_id])

"""Find many phrases in token lists at once: one Aho-Corasick pass, whatever their number.

The article's tokens are joined with single spaces and scanned once by a compiled automaton
(ahocorasick-rs, a Rust DFA) holding every alias and rule term as " word word " (a prefix
term as " word", open at the end), so matches fall on word boundaries and cost follows the
text, not the number of patterns. The automaton hands back every match in one call; token
positions are worked out afterwards, and only when a rule asks for them (proximity, lead,
salience). bench/tagging.py measured this at 25 µs per 3 KB article against 40 µs for
pyahocorasick's iterator with the same 7,000 patterns.

Where wirewatch was built with its native scan (native/, Rust), one call does the field's
whole scan instead: tokens are packed into integers as their bytes are read, looked up once
in a vocabulary, and phrases and prefixes are matched over the tokens by a trie of words,
so no Python object is made per token and every match comes with its token positions. The
pure scan here is the reference the native one is tested against, and the fallback where
no Rust toolchain built it; the tags are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

import ahocorasick_rs
from wirewatch.streams.tagging.text import ASCII_TOKEN_TABLE, Field, scan_form

try:
    from wirewatch.streams import _native
except ImportError:  # installed without a Rust toolchain: the pure scan does the same work
    _native = None  # type: ignore[assignment]

NATIVE_SCAN = _native is not None
# A DFA is the fastest automaton but takes memory per state and byte class; past this
# many patterns (about 100 MB of DFA) the contiguous NFA, a little slower, is used instead.
DFA_MAX_PATTERNS = 60_000


@dataclass(frozen=True)
class Pattern:
    """Words to match in sequence; the last may be a prefix."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def key(self) -> str:
        return " " + " ".join(self.words) + ("" if self.prefix else " ")


Occurrence = tuple[int, int]  # start token, end token (exclusive)
Match = tuple[int, int, int]  # automaton index, start and end character in the joined text
Located = tuple[int, int, int]  # pattern id, start token, end token (exclusive)


class Found:
    """What one scan of a field found: the patterns present, and where (see the subclasses)."""

    present: set[int]  # every pattern found
    patterns: Sequence[Pattern]

    def present_before(self, token_limit: int) -> set[int]:
        """Patterns found by the automaton starting within the first `token_limit` tokens."""
        raise NotImplementedError

    def places(self) -> dict[int, list[Occurrence]]:
        """Pattern id -> where each of its automaton matches lies (tokens), in text order."""
        raise NotImplementedError

    def occurrences(self, pattern_id: int) -> list[Occurrence]:
        found = self.places().get(pattern_id)
        if found is None:
            if pattern_id in self.present:
                raise ValueError(f"{self.patterns[pattern_id]} was not compiled as positional")
            return []
        return found


@dataclass
class Scan(Found):
    """The pure scan of a token list: character offsets, token positions on demand."""

    tokens: Sequence[str]
    present: set[int]
    text: str = ""  # the tokens as the automaton saw them: " token token ... "
    matches: list[Match] = field(default_factory=list, repr=False)
    pattern_ids: Sequence[int] = field(default=(), repr=False)  # automaton index -> pattern
    patterns: Sequence[Pattern] = field(default=(), repr=False)  # pattern id -> pattern
    _places: dict[int, list[Occurrence]] | None = field(default=None, repr=False)

    def present_before(self, token_limit: int) -> set[int]:
        if token_limit <= 0:
            return set()
        limit = len(" ".join(self.tokens[:token_limit])) + 1  # where token `limit` starts
        ids = self.pattern_ids
        return {ids[index] for index, start, _ in self.matches if start < limit}

    def places(self) -> dict[int, list[Occurrence]]:
        """Worked out once for all matches when a rule first asks, in one pass however many
        patterns ask (counting per pattern cost patterns x text: 5 s for a 1 MB article
        naming 10,000 aliases)."""
        if self._places is None:
            self._places = _grouped(self._located())
        return self._places

    def _located(self) -> Iterator[Located]:
        # A match starts at its first token's leading space, so the spaces before it count
        # the tokens before it: str.count runs in C, far cheaper than a table.
        text, ids, patterns = self.text, self.pattern_ids, self.patterns
        token = last = 0
        for index, start, _ in sorted(self.matches, key=itemgetter(1)):
            token += text.count(" ", last, start)
            last = start
            pattern_id = ids[index]
            yield pattern_id, token, token + len(patterns[pattern_id].words)


@dataclass
class NativeScan(Found):
    """The native scan's result: token positions came with the matches."""

    present: set[int]
    located: list[Located]  # text order; in the automaton's order where two start together
    patterns: Sequence[Pattern] = field(default=(), repr=False)
    _places: dict[int, list[Occurrence]] | None = field(default=None, repr=False)

    def present_before(self, token_limit: int) -> set[int]:
        return {pattern_id for pattern_id, start, _ in self.located if start < token_limit}

    def places(self) -> dict[int, list[Occurrence]]:
        if self._places is None:
            self._places = _grouped(self.located)
        return self._places


def _grouped(located: Iterable[Located]) -> dict[int, list[Occurrence]]:
    """Pattern id -> its places, in the order given."""
    places: dict[int, list[Occurrence]] = {}
    for pattern_id, start, end in located:
        found = places.get(pattern_id)
        if found is None:
            places[pattern_id] = [(start, end)]
        else:
            found.append((start, end))
    return places


class PhraseMatcher:
    """Compiled from a list of distinct patterns; ids are positions in that list.

    Most patterns only need to be known present (a learned rule's term). Single words are
    found by intersecting the article's distinct words with a dict (frequent words cost one
    lookup, not one per occurrence); phrases, prefixes and the `positional` patterns
    (proximity, lead, entities, whose places are asked for later) by the automaton.
    """

    def __init__(self, patterns: Sequence[Pattern], positional: Iterable[int] = (), *,
                 native: bool | None = None) -> None:
        """`native`: use the native scan (the default where it was built) or the pure one."""
        self.native = NATIVE_SCAN if native is None else native
        if self.native and _native is None:
            raise ValueError("the native scan was not built (see native/README.md)")
        self.patterns = list(patterns)
        self.positional = frozenset(positional)
        single = [len(p.words) == 1 and not p.prefix for p in self.patterns]
        self._words = {p.words[0]: i for i, p in enumerate(self.patterns) if single[i]}
        self._word_set = frozenset(self._words)
        self._scanned = [i for i in range(len(self.patterns))
                         if not single[i] or i in self.positional]
        keys = [self.patterns[i].key for i in self._scanned]
        if len(set(keys)) != len(keys):
            raise ValueError("a pattern was given twice")
        self._automaton = self._scanner = None
        if self.native:
            phrases = [(list(self.patterns[i].words), self.patterns[i].prefix, i)
                       for i in self._scanned]
            self._scanner = _native.Scanner(ASCII_TOKEN_TABLE, list(self._words.items()),
                                            phrases)
        elif keys:
            self._automaton = ahocorasick_rs.AhoCorasick(
                keys, implementation=ahocorasick_rs.Implementation.DFA
                if len(keys) <= DFA_MAX_PATTERNS else ahocorasick_rs.Implementation.ContiguousNFA)

    def scan_field(self, field: Field) -> Found:
        """Scan an article's field: what it contains, and where. The pure scan uses the
        field's tokens, which the field keeps for its proper-noun checks."""
        if self._scanner is not None:
            return self._native_scan(field.text)
        return self._scan_tokens(field.tokens)

    def scan(self, tokens: Sequence[str]) -> Found:
        """Scan a list of tokens (as text.tokenise makes them)."""
        if self._scanner is not None:
            return self._native_scan(" ".join(tokens))  # tokens re-tokenise to themselves
        return self._scan_tokens(tokens)

    def _native_scan(self, folded: str) -> NativeScan:
        assert self._scanner is not None
        present, located, _ = self._scanner.scan(scan_form(folded))
        return NativeScan(set(present), located, self.patterns)

    def _scan_tokens(self, tokens: Sequence[str]) -> Scan:
        if not self.patterns or not tokens:
            return Scan(tokens, set())
        words = self._words
        # frozenset.intersection(list) probes each token without building a set of them.
        present = {words[word] for word in self._word_set.intersection(tokens)}
        if self._automaton is None:
            return Scan(tokens, present)
        text = f" {' '.join(tokens)} "
        matches = self._automaton.find_matches_as_indexes(text, overlapping=True)
        ids = self._scanned
        present.update([ids[index] for index, _, _ in matches])
        return Scan(tokens, present, text, matches, ids, self.patterns)

    def present(self, tokens: Sequence[str]) -> set[int]:
        """The ids of the patterns that occur at least once in the tokens."""
        return self.scan(tokens).present

    def occurrences(self, tokens: Sequence[str], pattern_id: int) -> list[Occurrence]:
        """Where a pattern occurs, in order (it must be one of the positional patterns)."""
        return self.scan(tokens).occurrences(pattern_id)

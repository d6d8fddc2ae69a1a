"""Hostile article sizes and shapes through the real Tagger with a 10,000-alias watchlist.

tests/unit/streams/test_tagging.py checks what the tagger finds; bench/tagging.py measures
its speed on ordinary 3 KB articles. Nothing so far fed it a 1 MB article. Each case here
runs a 1 MB text (long runs of one character, a huge token without spaces, one watched
alias over and over, overlapping aliases, NEAR/n bait, punctuation and cashtags, text that
folds to other lengths, a 1 MB title) through the shipped taxonomy plus 10,000 watched
aliases, and must finish within a budget: 5 times the median time of a normal ~3 KB
article measured in the same test, scaled linearly to 1 MB, and at most 5 s. A CPU-time
alarm stops a case at its budget. Every time is printed in the terminal summary and
written to reliability-timings.json.

One bug these cases found is fixed in streams/tagging/matcher.py: when an article mentioned
hundreds of different watched aliases, finding their positions cost (aliases present) x
(text length), because positions were counted from the start of the text for every
pattern: 1 MB naming all 10,000 watched aliases took 5-6 s (budget ~1.5 s). Positions of
all matches are now worked out in one pass.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from wirewatch.streams.tagging import Tagger, load_entities, load_topics
from wirewatch.streams.tagging.files import Entity

from tests.reliability.budget import budget, median_seconds, within

MB = 1_000_000
ALIASES = 10_000
MULTIPLE = 5.0
_SYLLABLES = ["ka", "lo", "mi", "ra", "te", "zu", "vo", "ne", "si", "ba", "qu", "do", "fi", "gu"]
_PROSE = ("the company said on monday that its quarterly profit rose as chief executive jane "
          "roe announced plans to acquire a rival for two billion dollars while analysts at "
          "the bank expected revenue to beat estimates and the board named a new chair").split()


def _watchlist(seed: int = 11) -> list[Entity]:
    """Companies with a short and a long alias and a ticker: 10,000 aliases in all."""
    draw = random.Random(seed)
    names: set[str] = set()
    while len(names) < ALIASES // 3 + 1:
        names.add("".join(draw.choice(_SYLLABLES) for _ in range(4)).capitalize())
    return [Entity(f"synthetic-{i}", f"{name} Group", "organization",
                   (name, f"{name} Group Holdings"), (f"NASDAQ:{name[:4].upper()}{i}",))
            for i, name in enumerate(sorted(names))]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    built = Tagger(load_topics(), load_entities() + _watchlist())
    assert built.alias_count >= ALIASES
    return built


def _article(draw: random.Random, names: list[str], size: int = 3000) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        words.append(draw.choice(names) if draw.random() < 0.03 else draw.choice(_PROSE))
        length += len(words[-1]) + 1
    return " ".join(words)[:size]


@pytest.fixture(scope="module")
def reference(tagger: Tagger) -> float:
    """Median seconds to tag a normal ~3 KB article (distinct ones: no memo hits)."""
    draw = random.Random(3)
    names = [alias for entity in list(tagger.entities.values())[-200:]
             for alias in entity.aliases]
    articles = [_article(draw, names) for _ in range(41)]
    return median_seconds(lambda body: tagger.tag("Company names new chief executive", body),
                          articles)


def _fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _watched(tagger: Tagger) -> list[Entity]:
    return [e for e in tagger.entities.values() if e.id.startswith("synthetic-")]


Case = Callable[[Tagger], tuple[str, str]]
CASES: dict[str, Case] = {
    "prose naming 20 watched companies": lambda t: (
        "Quarterly results", _article(random.Random(5), [a for e in _watched(t)[:20]
                                                         for a in e.aliases], MB)),
    "one character repeated": lambda t: ("T", "a" * MB),
    "one token without spaces": lambda t: ("T", "".join(random.Random(1).choices(
        "abcdefghijklmnopqrstuvwxyz", k=MB))),
    "one watched alias repeated": lambda t: ("Microsoft", _fill("Microsoft ")),
    "overlapping aliases repeated": lambda t: ("T", _fill(
        f"{_watched(t)[0].aliases[1]} {_watched(t)[0].aliases[0]} ")),
    "alias without word boundaries": lambda t: ("T", _fill(_watched(t)[0].aliases[0])),
    "NEAR pairs everywhere": lambda t: ("T", _fill("resigns as chief executive ")),
    "NEAR left side only": lambda t: ("CEO", _fill("resigns appointed named ")),
    "punctuation and cashtags": lambda t: ("T", _fill("(NASDAQ: $MSFT), $$$ --- ...; ")),
    "text that folds to other lengths": lambda t: ("T", _fill("İ ﬁ é\u0301 Ǆ ß ")),
    "1 MB title": lambda t: (_fill("Microsoft names new chief executive "), "Body."),
}


@pytest.mark.parametrize("case", CASES)
def test_a_1_mb_article_is_tagged_in_bounded_time(
        case: str, tagger: Tagger, reference: float, timings: Callable[..., None]) -> None:
    title, body = CASES[case](tagger)
    limit = budget(reference, 3000, len(title) + len(body), multiple=MULTIPLE)
    tags, seconds = within(lambda: tagger.tag(title, body), limit)
    timings("tagger 1 MB", case, seconds, limit, reference_3kb=reference)
    assert tags is not None and seconds is not None, f"{case}: still running at {limit:.2f}s"
    assert seconds <= limit, f"{case}: {seconds:.2f}s, budget {limit:.2f}s"
    if "watched alias repeated" in case:
        [microsoft] = [e for e in tags.entities if e.id == "microsoft"]
        assert microsoft.mentions >= 100_000 and microsoft.where == "title"


def test_the_tagger_still_finds_things_in_1_mb(tagger: Tagger) -> None:
    """The cases above measure real work: a 1 MB article is tagged, not skipped."""
    entity = _watched(tagger)[7]
    body = _fill("the board met on monday. ", MB - 100) + f" {entity.aliases[1]} resigns as CEO"
    tags = tagger.tag("Board meeting", body)
    assert entity.id in {e.id for e in tags.entities}


def test_1_mb_naming_every_watched_alias_is_tagged_in_bounded_time(
        tagger: Tagger, reference: float, timings: Callable[..., None]) -> None:
    body = _fill(" ".join(alias for entity in _watched(tagger) for alias in entity.aliases)
                 + " ")
    limit = budget(reference, 3000, len(body), multiple=MULTIPLE)
    tags, seconds = within(lambda: tagger.tag("T", body), limit)
    timings("tagger 1 MB", "every watched alias", seconds, limit,
            reference_3kb=reference)
    assert tags is not None and seconds is not None, f"still running at {limit:.2f}s"
    assert len(tags.entities) >= len(_watched(tagger))

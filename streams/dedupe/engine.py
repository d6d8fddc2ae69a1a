"""Near-duplicate story assignment: candidates by shared lead sentences, verified by sketch.

An article joins the story of the best candidate whose text it (or which) it contains;
otherwise it founds a story. Candidates are only ever compared with the new article, and
an article joins exactly one existing story, so unrelated stories are never chained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from streams.dedupe.boilerplate import BoilerplateModel
from streams.dedupe.exact import StoryAssignment
from streams.dedupe.sketch import Sketch, containment_estimate, jaccard_estimate, sketch

MIN_CONTAINMENT = 0.6
MIN_JACCARD = 0.25  # near-equal texts pass on Jaccard alone, even when short
MIN_SHINGLES = 12  # below this a text is too short to compare safely


@dataclass(frozen=True)
class Indexed:
    """What the index returns for a candidate article."""

    article_id: str
    story_id: str
    sketch: Sketch


class StoryIndex(Protocol):
    """Storage of sketches and anchors; Redis in production, memory in tests."""

    async def known(self, article_id: str) -> StoryAssignment | None: ...

    async def candidates(self, url_key: str | None, anchors: Sequence[int]) -> list[Indexed]: ...

    async def add(self, article_id: str, story: StoryAssignment, sketch: Sketch,
                  url_key: str | None, seen: Sequence[str] = ()) -> list[Indexed]:
        """Record the article. For a new story, first return the articles not in `seen`
        that claimed its anchors meanwhile (a concurrent copy); then nothing is recorded."""
        ...


def best_match(mine: Sketch, candidates: Sequence[Indexed]) -> tuple[Indexed, float] | None:
    """The verified candidate with the highest similarity, if any passes verification."""
    best: tuple[Indexed, float] | None = None
    if mine.shingles < MIN_SHINGLES:
        return None
    for candidate in candidates:
        if candidate.sketch.shingles < MIN_SHINGLES:
            continue
        jaccard = jaccard_estimate(mine, candidate.sketch)
        containment = containment_estimate(mine, candidate.sketch)
        if jaccard >= MIN_JACCARD or containment >= MIN_CONTAINMENT:
            score = max(jaccard, containment)
            if best is None or score > best[1]:
                best = (candidate, score)
    return best


class NearDupEngine:
    """Assigns each article to a story; idempotent per article id."""

    def __init__(self, index: StoryIndex, boilerplate: BoilerplateModel | None = None) -> None:
        self.index = index
        self.boilerplate = boilerplate or BoilerplateModel()

    async def assign(self, article_id: str, *, site: str, text: str,
                     url_key: str | None = None) -> StoryAssignment:
        known = await self.index.known(article_id)
        if known is not None:
            return known  # the same article again (a replay): the same answer
        lines = [line for line in text.splitlines() if line.strip()]
        mine = sketch("\n".join(self.boilerplate.strip(site, lines)))
        self.boilerplate.observe(site, lines)
        candidates = await self.index.candidates(url_key, mine.anchors)
        seen: list[str] = []
        while True:
            candidates = [c for c in candidates if c.article_id != article_id]
            seen += [c.article_id for c in candidates]
            match = best_match(mine, candidates)
            if match is not None:
                found, score = match
                story = StoryAssignment(story_id=found.story_id, is_duplicate=True,
                                        duplicate_of=found.story_id, similarity=round(score, 3))
                await self.index.add(article_id, story, mine, url_key)
                return story
            story = StoryAssignment(story_id=article_id, is_duplicate=False, duplicate_of=None,
                                    similarity=0.0)
            # Atomic: refused if a copy not yet compared claimed one of our anchors meanwhile.
            candidates = await self.index.add(article_id, story, mine, url_key, seen)
            if not candidates:
                return story

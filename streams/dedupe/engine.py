"""Near-duplicate story assignment: candidates by shared lead sentences, verified by sketch.

An article joins the story of the best candidate whose text it (or which) it contains;
otherwise it founds a story. Candidates are only ever compared with the new article, and
an article joins exactly one existing story, so unrelated stories are never chained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from streams.dedupe.boilerplate import BoilerplateModel
from streams.dedupe.sketch import Sketch, similarity, sketch


@dataclass(frozen=True)
class StoryAssignment:
    """Which story an article belongs to; `duplicate_of` is the story's first copy."""

    story_id: str
    is_duplicate: bool
    duplicate_of: str | None
    similarity: float


MIN_CONTAINMENT = 0.6
MIN_JACCARD = 0.25  # near-equal texts pass on Jaccard alone, even when short
MIN_SHINGLES = 12  # below this a text is too short to compare safely


@dataclass(frozen=True)
class Indexed:
    """What the index returns for a candidate article."""

    article_id: str
    story_id: str
    sketch: Sketch
    same_url: bool = False  # found through the canonical URL: the same article, re-fetched


@dataclass(frozen=True)
class Doc:
    """One article to assign: its id, its site (for boilerplate), text and URL key."""

    article_id: str
    site: str
    text: str
    url_key: str | None = None


@dataclass(frozen=True)
class Pending:
    """An assignment decided in a batch, waiting to be recorded in the index."""

    article_id: str
    story: StoryAssignment
    sketch: Sketch
    url_key: str | None
    seen: tuple[str, ...]


class StoryIndex(Protocol):
    """Storage of sketches and anchors; Redis in production, memory in tests."""

    async def lookup_many(self, queries: Sequence[tuple[str, str | None, Sequence[int]]],
                          ) -> list[tuple[StoryAssignment | None, list[Indexed]]]:
        """For each (article id, url key, anchors): its known assignment and candidates."""
        ...

    async def add_many(self, pending: Sequence[Pending]) -> list[list[Indexed]]:
        """`add` for many articles in one round trip; the raced candidates of each."""
        ...

    async def known(self, article_id: str) -> StoryAssignment | None: ...

    async def candidates(self, url_key: str | None, anchors: Sequence[int]) -> list[Indexed]: ...

    async def add(self, article_id: str, story: StoryAssignment, sketch: Sketch,
                  url_key: str | None, seen: Sequence[str] = ()) -> list[Indexed]:
        """Record the article. For a new story, first return the articles not in `seen`
        that claimed its anchors meanwhile (a concurrent copy); then nothing is recorded."""
        ...


def best_match(mine: Sketch, candidates: Sequence[Indexed]) -> tuple[Indexed, float] | None:
    """The verified candidate with the highest similarity, if any passes verification."""
    for candidate in candidates:
        if candidate.same_url:
            return candidate, 1.0
    best: tuple[Indexed, float] | None = None
    if mine.shingles < MIN_SHINGLES:
        return None
    for candidate in candidates:
        if candidate.sketch.shingles < MIN_SHINGLES:
            continue
        jaccard, containment = similarity(mine, candidate.sketch)
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

    def _sketch(self, site: str, text: str) -> Sketch:
        lines = [line for line in text.splitlines() if line.strip()]
        keyed = self.boilerplate.keys(lines)
        mine = sketch("\n".join(self.boilerplate.strip(site, lines, keyed)))
        self.boilerplate.observe(site, keyed)
        return mine

    async def assign_many(self, docs: Sequence[Doc]) -> list[StoryAssignment]:
        """Assign a batch in a few round trips: the same answers as `assign` one by one.

        Copies inside the batch find each other through a batch-local overlay; a story
        founded concurrently elsewhere is caught when recording, and that article is then
        assigned again on its own.
        """
        sketches = [self._sketch(doc.site, doc.text) for doc in docs]
        looked_up = await self.index.lookup_many(
            [(d.article_id, d.url_key, s.anchors) for d, s in zip(docs, sketches, strict=True)])
        overlay: dict[object, Indexed] = {}  # anchor or url key -> article in this batch
        decided: dict[str, StoryAssignment] = {}
        results: list[StoryAssignment | None] = []
        pending: list[Pending] = []
        for doc, mine, (known, candidates) in zip(docs, sketches, looked_up, strict=True):
            known = known or decided.get(doc.article_id)
            if known is not None:
                results.append(known)
                continue
            keys: list[object] = list(mine.anchors) + ([doc.url_key] if doc.url_key else [])
            local = [replace(overlay[k], same_url=k == doc.url_key) for k in keys if k in overlay]
            merged: dict[str, Indexed] = {}
            for candidate in candidates + local:
                if candidate.article_id != doc.article_id:
                    kept = merged.get(candidate.article_id)
                    merged[candidate.article_id] = candidate if kept is None else replace(
                        kept, same_url=kept.same_url or candidate.same_url)
            pool = list(merged.values())
            match = best_match(mine, pool)
            if match is not None:
                found, score = match
                story = StoryAssignment(story_id=found.story_id, is_duplicate=True,
                                        duplicate_of=found.story_id, similarity=round(score, 3))
            else:
                story = StoryAssignment(story_id=doc.article_id, is_duplicate=False,
                                        duplicate_of=None, similarity=0.0)
            entry = Indexed(doc.article_id, story.story_id, mine)
            for key in keys:
                overlay.setdefault(key, entry)
            decided[doc.article_id] = story
            pending.append(Pending(doc.article_id, story, mine, doc.url_key,
                                   tuple(c.article_id for c in pool)))
            results.append(story)
        raced = await self.index.add_many(pending)
        retry = {p.article_id for p, r in zip(pending, raced, strict=True) if r}
        final = []
        for doc, result in zip(docs, results, strict=True):
            if doc.article_id in retry:
                retry.discard(doc.article_id)  # once, even if the id repeats in the batch
                result = await self.assign(doc.article_id, site=doc.site, text=doc.text,
                                           url_key=doc.url_key)
            assert result is not None
            final.append(result)
        return final

    async def assign(self, article_id: str, *, site: str, text: str,
                     url_key: str | None = None) -> StoryAssignment:
        known = await self.index.known(article_id)
        if known is not None:
            return known  # the same article again (a replay): the same answer
        mine = self._sketch(site, text)
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

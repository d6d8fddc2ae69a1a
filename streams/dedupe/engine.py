"""Near-duplicate story assignment: candidates by shared lead sentences or shared sketch
samples, verified by sketch.

An article joins the story of the best verified candidate (one text largely contained in
the other, or the two nearly equal); otherwise it founds a story. Candidates are only ever
compared with the new article, and an article joins exactly one existing story, so
unrelated stories are never chained. Lead sentences find copies whose leads are intact;
pairs of the sketch's smallest shingle hashes find copies whose every lead sentence was
lightly edited, and must then be nearly equal (MIN_SAMPLE_JACCARD). Page furniture (cookie
banners, paywall prompts, block pages) is removed before sketching: a page that is nothing
else has no sketch, so it neither founds a story others join nor joins one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from wirewatch.streams.dedupe.boilerplate import BoilerplateModel
from wirewatch.streams.dedupe.furniture import furniture_only, strip_furniture
from wirewatch.streams.dedupe.sketch import Sketch, similarity, sketch


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
MIN_SAMPLE_JACCARD = 0.5  # a candidate found only by sketch samples must be this close
SAMPLED = 4  # sample keys are the pairs of the sketch's SAMPLED smallest shingle hashes


def sample_keys(mine: Sketch) -> tuple[int, ...]:
    """Index keys from the sketch's smallest hashes, two at a time: a copy that shares two
    of the four smallest (nearly certain when most shingles are shared, however its lead
    sentences were edited) shares a key; unrelated texts almost never share two."""
    if mine.shingles < MIN_SHINGLES:
        return ()
    smallest = mine.bottom[:SAMPLED]
    return tuple((a << 32) | b for i, a in enumerate(smallest) for b in smallest[i + 1:])


Query = tuple[str, str | None, Sequence[int], Sequence[int]]  # id, url key, anchors, samples


@dataclass(frozen=True)
class Indexed:
    """What the index returns for a candidate article."""

    article_id: str
    story_id: str
    sketch: Sketch
    same_url: bool = False  # found through the canonical URL: the same article, re-fetched
    by_sample: bool = False  # found only through sketch samples, no shared lead sentence

    def found_as(self, same_url: bool, by_sample: bool) -> Indexed:
        """This article as a lookup found it (through its URL, or only through samples)."""
        # The constructor, not dataclasses.replace: this runs for every candidate of every
        # article, and replace() costs several times more.
        return Indexed(self.article_id, self.story_id, self.sketch, same_url, by_sample)

    def merged(self, other: Indexed) -> Indexed:
        """One candidate found twice: by URL if either was, by sample only if both were."""
        return Indexed(self.article_id, self.story_id, self.sketch,
                       self.same_url or other.same_url, self.by_sample and other.by_sample)


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

    async def lookup_many(self, queries: Sequence[Query],
                          ) -> list[tuple[StoryAssignment | None, list[Indexed]]]:
        """For each (article id, url key, anchors, sample keys): its known assignment and
        candidates."""
        ...

    async def add_many(self, pending: Sequence[Pending], *, force: bool = False) -> list[bool]:
        """Record each article, in order and atomically; False where it was refused: a new
        story whose keys a concurrent copy claimed first, or a join to a refused founder."""
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
        if candidate.by_sample:
            passes = jaccard >= MIN_SAMPLE_JACCARD
        else:
            passes = jaccard >= MIN_JACCARD or containment >= MIN_CONTAINMENT
        if passes:
            score = max(jaccard, containment)
            if best is None or score > best[1]:
                best = (candidate, score)
    return best


MAX_ATTEMPTS = 5  # lookups per article before its story is recorded without the race check


class NearDupEngine:
    """Assigns each article to a story; idempotent per article id."""

    def __init__(self, index: StoryIndex, boilerplate: BoilerplateModel | None = None) -> None:
        self.index = index
        self.boilerplate = boilerplate or BoilerplateModel()

    async def assign(self, article_id: str, *, site: str, text: str,
                     url_key: str | None = None) -> StoryAssignment:
        (story,) = await self.assign_many([Doc(article_id, site, text, url_key)])
        return story

    async def assign_many(self, docs: Sequence[Doc]) -> list[StoryAssignment]:
        """Assign a batch in a few round trips, each article as if one by one in order.

        Copies inside the batch find each other through a batch-local overlay. Recording is
        atomic per article; an article refused because another worker founded its story
        meanwhile (or whose founder in this batch was refused) is looked up again.
        """
        lines = [_content_lines(doc.text) for doc in docs]
        keyed = [self.boilerplate.keys(doc_lines) for doc_lines in lines]
        sketches = [sketch("\n".join(self.boilerplate.strip(doc.site, doc_lines, keys)))
                    for doc, doc_lines, keys in zip(docs, lines, keyed, strict=True)]
        results: dict[int, StoryAssignment] = {}
        replays: set[int] = set()
        todo = list(range(len(docs)))
        for attempt in range(MAX_ATTEMPTS):
            todo = await self._attempt(docs, sketches, todo, results, replays,
                                       force=attempt == MAX_ATTEMPTS - 1)
            if not todo:
                break
        for position, (doc, keys) in enumerate(zip(docs, keyed, strict=True)):
            if position not in replays:  # a replayed article must not count its lines twice
                self.boilerplate.observe(doc.site, keys)
        return [results[position] for position in range(len(docs))]

    async def _attempt(self, docs: Sequence[Doc], sketches: Sequence[Sketch],
                       todo: list[int], results: dict[int, StoryAssignment],
                       replays: set[int], *, force: bool) -> list[int]:
        """Decide and record the `todo` articles; return those refused by the index."""
        samples = {i: sample_keys(sketches[i]) for i in todo}
        looked_up = await self.index.lookup_many(
            [(docs[i].article_id, docs[i].url_key, sketches[i].anchors, samples[i])
             for i in todo])
        overlay: dict[object, Indexed] = {}  # anchor or url key -> article in this batch
        decided: dict[str, StoryAssignment] = {}
        pending: list[tuple[int, Pending]] = []
        for position, (known, candidates) in zip(todo, looked_up, strict=True):
            doc, mine = docs[position], sketches[position]
            known = known or decided.get(doc.article_id)
            if known is not None:
                results[position] = known  # the same article again (a replay): same answer
                replays.add(position)
                continue
            sampled: list[object] = [("m", key) for key in samples[position]]
            keys: list[object] = list(mine.anchors) + sampled + (
                [doc.url_key] if doc.url_key else [])
            merged: dict[str, Indexed] = {}
            # Overlay entries are stored plain; a tuple key is a sample key.
            local = [overlay[k].found_as(k == doc.url_key, isinstance(k, tuple))
                     for k in keys if k in overlay]
            for candidate in candidates + local:
                if candidate.article_id != doc.article_id:
                    kept = merged.get(candidate.article_id)
                    merged[candidate.article_id] = candidate if kept is None else (
                        kept.merged(candidate))
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
            results[position] = story
            pending.append((position, Pending(doc.article_id, story, mine, doc.url_key,
                                              tuple(c.article_id for c in pool))))
        recorded = await self.index.add_many([p for _, p in pending], force=force)
        refused = {docs[position].article_id for (position, _), ok
                   in zip(pending, recorded, strict=True) if not ok}
        # Every position of a refused article (an id may repeat in a batch) is decided again.
        return [position for position in todo if docs[position].article_id in refused]


def _content_lines(text: str) -> list[str]:
    """The lines dedupe compares: without page furniture, and none at all for a page that
    is furniture only."""
    stripped = strip_furniture(text)
    if furniture_only(text, stripped):
        return []
    return [line for line in stripped.splitlines() if line.strip()]

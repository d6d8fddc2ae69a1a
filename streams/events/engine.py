"""Event assignment: each new story joins the recent event it reports, or founds one.

Candidates are stories in the window that share a rare-ish key (a name or a long lemma of
the same language); each is scored by the event model and the best one at or above its
threshold gives its event. Copies of a story inherit its event. Deterministic: the same
stories in the same order give the same events, which is what replay relies on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from wirewatch.streams.events.profile import Profile
from wirewatch.streams.events.similarity import EventModel

KEYS_PER_STORY = 16  # index keys per story: its longest names and lemmas
MAX_CANDIDATES = 12  # stories of the batch scored per new story, those sharing most keys
LOCAL_PER_KEY = 12  # the batch's latest stories per key, as the index reads its keys
MAX_ATTEMPTS = 5  # lookups per story before its event is recorded without the race check


@dataclass(frozen=True)
class EventAssignment:
    """Which event a story belongs to, and how similar it was to the story it joined."""

    event_id: str
    is_new: bool
    similarity: float


@dataclass(frozen=True)
class Candidate:
    story_id: str
    event_id: str
    profile: Profile
    founder_only: bool = False  # loaded as its event's founder, not found by a key


@dataclass(frozen=True)
class Looked:
    """What a lookup found for one story."""

    known: EventAssignment | None
    candidates: list[Candidate]
    observed: frozenset[str] = frozenset()  # every story seen under its keys


@dataclass(frozen=True)
class Query:
    story_id: str
    keys: tuple[str, ...]
    published: float


@dataclass(frozen=True)
class PendingEvent:
    """A decided assignment waiting to be recorded."""

    story_id: str
    event: EventAssignment
    profile: Profile
    keys: tuple[str, ...]
    seen: tuple[str, ...]  # the stories its lookup saw (compared or not) and the batch's


class EventIndex(Protocol):
    """Story profiles, their keys and their events; Redis in production, memory in tests."""

    async def lookup_many(self, queries: Sequence[Query]) -> list[Looked]:
        """Per query: the story's known event, candidate stories in the window, and every
        story the lookup saw under the story's keys (scored or not)."""
        ...

    async def add_many(self, pending: Sequence[PendingEvent], *, force: bool = False,
                       ) -> list[bool]:
        """Record in order; False where a new event was refused because a story sharing its
        keys was recorded meanwhile and not compared (look it up again)."""
        ...


def index_keys(profile: Profile) -> tuple[str, ...]:
    """The keys a story is found by: its longest names and lemmas, within its language."""
    names = sorted(profile.names, key=lambda t: (-len(t), t))[:KEYS_PER_STORY // 2]
    terms = sorted(profile.terms - profile.names, key=lambda t: (-len(t), t))
    chosen = names + terms[:KEYS_PER_STORY - len(names)]
    return tuple(sorted(f"{profile.lang}:{key}" for key in chosen))


FOUNDER_MARGIN = 0.15  # a joiner may score this much below the threshold with the founder


def best_event(model: EventModel, mine: Profile, candidates: Sequence[Candidate],
               ) -> tuple[Candidate, float] | None:
    """The most similar candidate at or above the model's threshold (ties: the earliest)
    whose event's founding story is also close (within FOUNDER_MARGIN of the threshold):
    without that check an event drifts, each story like the last and the hundredth about
    something else."""
    founders = {c.event_id: c.profile for c in candidates if c.story_id == c.event_id}
    scored = sorted(((model.similarity(mine, c.profile), c) for c in candidates),
                    key=lambda sc: (-sc[0], sc[1].story_id))
    for score, candidate in scored:  # the best first; its founder checked only if needed
        if not model.same_event(score):
            return None
        founder = founders.get(candidate.event_id)
        if founder is None or founder is candidate.profile or \
                model.similarity(mine, founder) >= model.threshold - FOUNDER_MARGIN:
            return candidate, score
    return None


class EventEngine:
    """Assigns new stories to events; idempotent per story id."""

    def __init__(self, index: EventIndex, model: EventModel | None = None) -> None:
        self.index = index
        self.model = model or EventModel.load()

    async def assign_many(self, stories: Sequence[tuple[str, Profile]],
                          ) -> list[EventAssignment]:
        """Events of (story id, profile) new stories, as if one by one in order."""
        keyed = [index_keys(profile) for _, profile in stories]
        results: dict[int, EventAssignment] = {}
        todo = list(range(len(stories)))
        for attempt in range(MAX_ATTEMPTS):
            todo = await self._attempt(stories, keyed, todo, results,
                                       force=attempt == MAX_ATTEMPTS - 1)
            if not todo:
                break
        return [results[position] for position in range(len(stories))]

    async def _attempt(self, stories: Sequence[tuple[str, Profile]],
                       keyed: Sequence[tuple[str, ...]], todo: list[int],
                       results: dict[int, EventAssignment], *, force: bool) -> list[int]:
        looked_up = await self.index.lookup_many([
            Query(stories[i][0], keyed[i], stories[i][1].published) for i in todo])
        local: list[Candidate] = []  # decided earlier in this batch
        local_keys: dict[str, list[int]] = {}  # key -> positions in `local`
        decided: dict[str, EventAssignment] = {}
        pending: list[PendingEvent] = []
        for position, looked in zip(todo, looked_up, strict=True):
            story_id, profile = stories[position]
            candidates = looked.candidates
            known = looked.known or decided.get(story_id)
            if known is not None:
                results[position] = known
                continue
            pool = {c.story_id: c for c in candidates if c.story_id != story_id}
            # Stories decided earlier in this batch, ranked as the index ranks its own.
            shared = Counter(n for key in keyed[position]
                             for n in local_keys.get(key, [])[-LOCAL_PER_KEY:])
            for n, _ in sorted(shared.items(), key=lambda s: (-s[1], -s[0]))[:MAX_CANDIDATES]:
                pool.setdefault(local[n].story_id, local[n])
            found = best_event(self.model, profile, list(pool.values()))
            event = (EventAssignment(found[0].event_id, False, round(found[1], 3))
                     if found else EventAssignment(story_id, True, 0.0))
            decided[story_id] = results[position] = event
            for key in keyed[position]:
                local_keys.setdefault(key, []).append(len(local))
            local.append(Candidate(story_id, event.event_id, profile))
            # A story founding an event is refused only over stories its lookup never saw
            # (a concurrent founder), not over those it saw and did not need to score.
            pending.append(PendingEvent(story_id, event, profile, keyed[position],
                                        tuple(sorted(looked.observed.union(pool)))))
        recorded = await self.index.add_many(pending, force=force)
        refused = {p.story_id for p, ok in zip(pending, recorded, strict=True) if not ok}
        return [position for position in todo if stories[position][0] in refused]

"""Dedupe for a replay: read the live index, write a scratch one.

An article live processing already saw keeps the story it was given (so a replay's alert
ids are the live ones and the ledger recognises them); an article it never saw is compared
with both indexes. The live index is never written, so a replay leaves no trace on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from wirewatch.streams.dedupe.engine import Indexed, Pending, Query, StoryAssignment, StoryIndex


class LayeredIndex:
    def __init__(self, live: StoryIndex, scratch: StoryIndex) -> None:
        self.live, self.scratch = live, scratch

    async def lookup_many(self, queries: Sequence[Query],
                          ) -> list[tuple[StoryAssignment | None, list[Indexed]]]:
        mine = await self.scratch.lookup_many(queries)
        theirs = await self.live.lookup_many(queries)
        merged_results = []
        for (known_here, found_here), (known_live, found_live) in zip(mine, theirs,
                                                                       strict=True):
            merged: dict[str, Indexed] = {}
            for candidate in (*found_live, *found_here):
                kept = merged.get(candidate.article_id)
                merged[candidate.article_id] = candidate if kept is None else (
                    kept.merged(candidate))
            merged_results.append((known_live or known_here, list(merged.values())))
        return merged_results

    async def add_many(self, pending: Sequence[Pending], *, force: bool = False) -> list[bool]:
        return await self.scratch.add_many(pending, force=force)
